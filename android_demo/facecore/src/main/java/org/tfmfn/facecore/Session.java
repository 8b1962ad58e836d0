package org.tfmfn.facecore;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * What the app decides, frame after frame, in one of its modes, kept apart from Android so that it runs
 * on the JVM: faces tracked across frames ({@link FaceTracker}); Enrol and Verify first ask the largest
 * face for a liveness challenge ({@link Liveness}); Enrol then takes checked samples ({@link Enrolment});
 * Verify (1:1, against one chosen person) and Identify (1:N, every face in the frame) decide once per
 * tracked face by voting over frames ({@link Voting}), each person scored by the mean of their samples
 * ({@link Gallery}), with the mode's threshold from the metadata. Watch only detects.
 *
 * <pre>{@code
 * Session session = new Session(gallery, verifyPoint, identifyPoint, new SecureRandom());
 * session.verify("ada");
 * Session.Outcome outcome = session.frame(faces, SystemClock.elapsedRealtime());
 * overlay.show(outcome.labels); status.setText(outcome.status);
 * }</pre>
 */
public final class Session {
    public enum Mode { WATCH, ENROLL, VERIFY, IDENTIFY }

    /** How a label reads: nothing decided, a match, no match. */
    public enum Kind { NEUTRAL, MATCH, NO_MATCH }

    public static final int SAMPLES = 5;
    public static final long MS_BETWEEN_SAMPLES = 400;

    /** One face of a frame as the pipeline gives it; landmarks, quality and embedding may be null when not asked for. */
    public static final class Face {
        public final float[] box, landmarks, embedding;
        public final FaceQuality quality;

        public Face(float[] box, float[] landmarks, FaceQuality quality, float[] embedding) {
            this.box = box;
            this.landmarks = landmarks;
            this.quality = quality;
            this.embedding = embedding;
        }
    }

    /** A face's label on screen. */
    public static final class Label {
        public final String text;
        public final Kind kind;

        Label(String text, Kind kind) {
            this.text = text;
            this.kind = kind;
        }
    }

    /** What a frame gave: a label per face (in the frame's order), the status line, and a finished enrolment. */
    public static final class Outcome {
        public final List<Label> labels;
        public final String status;
        /** The name and samples of an enrolment that completed on this frame; null otherwise. */
        public final String enrolledName;
        public final List<float[]> enrolledSamples;
        /** Someone already enrolled whom the new person resembles (below the 1:N threshold); null if nobody. */
        public final Gallery.Match lookalike;

        Outcome(List<Label> labels, String status, String enrolledName, List<float[]> enrolledSamples,
                Gallery.Match lookalike) {
            this.labels = labels;
            this.status = status;
            this.enrolledName = enrolledName;
            this.enrolledSamples = enrolledSamples;
            this.lookalike = lookalike;
        }
    }

    private final FaceTracker tracker = new FaceTracker(FaceTracker.MIN_IOU, FaceTracker.MAX_MISSED);
    private final Voting voting = new Voting(Voting.AGREE);
    private final Random random;
    private Gallery gallery;
    private final OperatingPoint verifyPoint, identifyPoint;
    private Mode mode = Mode.WATCH;
    private String person;
    private Liveness challenge;
    private int liveTrack = -1;
    private Enrolment enrolment;

    public Session(Gallery gallery, OperatingPoint verifyPoint, OperatingPoint identifyPoint, Random random) {
        this.gallery = gallery;
        this.verifyPoint = verifyPoint;
        this.identifyPoint = identifyPoint;
        this.random = random;
    }

    public Mode mode() {
        return mode;
    }

    /** The person being enrolled or verified; null in the other modes. */
    public String person() {
        return person;
    }

    /** The liveness challenge under way, or null. */
    public Liveness challenge() {
        return challenge;
    }

    /** The gallery that Verify and Identify compare with (replaced after an enrolment or a deletion). */
    public void setGallery(Gallery gallery) {
        this.gallery = gallery;
    }

    public void watch() {
        start(Mode.WATCH, null);
    }

    public void enroll(String name) {
        if (name == null || name.trim().isEmpty()) throw new IllegalArgumentException("a person needs a name");
        start(Mode.ENROLL, name.trim());
    }

    public void verify(String name) {
        gallery.centroid(name); // refuses someone not enrolled
        start(Mode.VERIFY, name);
    }

    public void identify() {
        start(Mode.IDENTIFY, null);
    }

    private void start(Mode next, String name) {
        mode = next;
        person = name;
        voting.reset();
        challenge = null;
        liveTrack = -1;
        enrolment = null;
    }

    /** Whether the next frame needs landmarks (alignment). */
    public boolean needsLandmarks() {
        return mode != Mode.WATCH;
    }

    /** Whether the next frame needs embeddings: not during a liveness challenge, never in Watch. */
    public boolean needsEmbeddings() {
        return mode == Mode.IDENTIFY || (mode != Mode.WATCH && challenge != null
                && challenge.state() == Liveness.State.PASSED);
    }

    /** What the status line says of the current mode: the threshold and the false accept rate of a decision. */
    public String describe() {
        switch (mode) {
            case ENROLL:
                return "Enrolling " + person + ". " + prompt();
            case VERIFY:
                return "Verifying: is this " + person + "? " + verifyPoint.describe() + "; "
                        + decisionLine(verifyPoint, 1);
            case IDENTIFY:
                return "Identifying among " + gallery.names().size() + " enrolled. " + identifyPoint.describe() + "; "
                        + decisionLine(identifyPoint, Math.max(1, gallery.names().size()));
            default:
                return "Watching.";
        }
    }

    /** The false accept rate of one decision at {@code point} with {@code candidates} people compared. */
    public static String decisionLine(OperatingPoint point, int candidates) {
        if (Double.isNaN(point.targetFar)) {
            return "the false accept rate of this threshold was not measured";
        }
        return Voting.describe(point.targetFar, Voting.AGREE, candidates);
    }

    private String prompt() {
        return challenge == null ? "Look at the camera" : challenge.prompt();
    }

    /** Acts on one frame's faces (largest first) at {@code timeMs}. */
    public Outcome frame(List<Face> faces, long timeMs) {
        List<float[]> boxes = new ArrayList<>();
        for (Face face : faces) boxes.add(face.box);
        int[] ids = tracker.update(boxes);
        voting.forgetUnless(tracker::alive);
        List<Label> labels = new ArrayList<>();
        for (int i = 0; i < faces.size(); i++) labels.add(new Label("", Kind.NEUTRAL));
        switch (mode) {
            case ENROLL:
                return enrollFrame(faces, ids, labels, timeMs);
            case VERIFY:
                return verifyFrame(faces, ids, labels, timeMs);
            case IDENTIFY:
                for (int i = 0; i < faces.size(); i++) {
                    if (faces.get(i).embedding == null) continue;
                    Gallery.Match match = gallery.identify(faces.get(i).embedding, identifyPoint.threshold);
                    labels.set(i, label(voting.vote(ids[i], match == null ? null : match.name), "unknown"));
                }
                return new Outcome(labels, describe(), null, null, null);
            default:
                for (int i = 0; i < faces.size(); i++) labels.set(i, new Label("face", Kind.NEUTRAL));
                return new Outcome(labels, describe(), null, null, null);
        }
    }

    /** The liveness step for the largest face; true once it has passed for that face's track. */
    private boolean live(List<Face> faces, int[] ids, long timeMs) {
        if (faces.isEmpty()) return false;
        if (challenge == null || ids[0] != liveTrack && challenge.state() != Liveness.State.FAILED) {
            challenge = Liveness.random(random, Liveness.TURNS, Liveness.TIMEOUT_MS);
            liveTrack = ids[0];
            enrolment = null;
        }
        return challenge.observe(ids[0], faces.get(0).landmarks, timeMs) == Liveness.State.PASSED;
    }

    private Outcome enrollFrame(List<Face> faces, int[] ids, List<Label> labels, long timeMs) {
        if (!live(faces, ids, timeMs) || faces.get(0).embedding == null) {
            return challengeOutcome(faces, labels, "Enrolling " + person);
        }
        if (enrolment == null) {
            enrolment = new Enrolment(SAMPLES, MS_BETWEEN_SAMPLES, verifyPoint.threshold);
        }
        Face face = faces.get(0);
        String said = enrolment.offer(faces.size(), ids[0], face.quality, face.embedding, timeMs);
        labels.set(0, new Label(said, Kind.NEUTRAL));
        if (!enrolment.complete()) {
            return new Outcome(labels, "Enrolling " + person + ": " + said, null, null, null);
        }
        List<float[]> samples = new ArrayList<>(enrolment.samples());
        Gallery.Match lookalike = Enrolment.lookalike(gallery, samples, identifyPoint.threshold);
        String name = person;
        watch();
        return new Outcome(labels, "Enrolled " + name, name, Collections.unmodifiableList(samples), lookalike);
    }

    private Outcome verifyFrame(List<Face> faces, int[] ids, List<Label> labels, long timeMs) {
        if (!live(faces, ids, timeMs) || faces.get(0).embedding == null) {
            return challengeOutcome(faces, labels, "Verifying " + person);
        }
        boolean same = gallery.verify(person, faces.get(0).embedding, verifyPoint.threshold);
        labels.set(0, label(voting.vote(ids[0], same ? person : null), "not " + person));
        return new Outcome(labels, describe(), null, null, null);
    }

    private Outcome challengeOutcome(List<Face> faces, List<Label> labels, String doing) {
        String prompt = faces.isEmpty() ? "No face" : prompt();
        if (!faces.isEmpty()) {
            boolean failed = challenge.state() == Liveness.State.FAILED;
            labels.set(0, new Label(prompt, failed ? Kind.NO_MATCH : Kind.NEUTRAL));
        }
        return new Outcome(labels, doing + ": " + prompt, null, null, null);
    }

    private static Label label(Voting.Verdict verdict, String rejected) {
        switch (verdict.state) {
            case ACCEPTED:
                return new Label("✓ " + verdict.person, Kind.MATCH);
            case REJECTED:
                return new Label("✗ " + rejected, Kind.NO_MATCH);
            default:
                return new Label(String.format(Locale.US, "… %d/%d", verdict.leading, Voting.AGREE), Kind.NEUTRAL);
        }
    }
}
