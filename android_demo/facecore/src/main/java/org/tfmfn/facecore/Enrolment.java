package org.tfmfn.facecore;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Enrolment that checks what it stores. A frame gives a sample only when it holds exactly one face,
 * large enough, facing the camera and sharp ({@link #problem}); samples come from one tracked face,
 * {@code msBetween} apart; when enough are in, each must lie within the verification threshold of the
 * others' mean ({@link #outlier}: a second person stepping in, a bad alignment), and the new person's
 * mean is compared with everyone enrolled ({@link #lookalike}), so that the app can warn before the
 * same face is stored under two names.
 *
 * <p>The sharpness limit was measured on aligned LFW faces (tfmfn.face.quality): 99% of 600 real crops
 * score above 37, the same crops blurred with a Gaussian of sigma 1 pixel score 35 at the median,
 * sigma 2 score 8.
 *
 * <pre>{@code
 * Enrolment enrolment = new Enrolment(5, 400, verifyThreshold);
 * String status = enrolment.offer(faces, trackId, quality, embedding, nowMs);  // what to tell the person
 * if (enrolment.complete()) gallery.enroll(name, ...enrolment.samples());
 * }</pre>
 */
public final class Enrolment {
    /** Eye distance in camera pixels below which a face is too small (the 112-pixel crop has 35). */
    public static final double MIN_EYE_DISTANCE = 30;
    public static final double MAX_YAW = 25, MAX_PITCH = 25, MAX_ROLL = 20;
    /** Variance of the Laplacian of the aligned crop below which it is blurred. */
    public static final double MIN_SHARPNESS = 25;

    private final int wanted;
    private final long msBetween;
    private final double threshold;
    private final List<float[]> samples = new ArrayList<>();
    private int track = -1;
    private long lastMs;

    public Enrolment(int wanted, long msBetween, double threshold) {
        if (wanted < 2 || msBetween < 0 || !(threshold > 0)) {
            throw new IllegalArgumentException("an enrolment needs 2 or more samples, a gap >= 0 and a threshold > 0");
        }
        this.wanted = wanted;
        this.msBetween = msBetween;
        this.threshold = threshold;
    }

    /** What keeps a frame from giving a sample, as the person should hear it; null when it can. */
    public static String problem(int faces, FaceQuality quality) {
        if (faces == 0) return "No face";
        if (faces > 1) return "Only one face, please (" + faces + " in view)";
        if (quality.eyeDistance < MIN_EYE_DISTANCE) {
            return String.format(Locale.US, "Come closer (eyes %.0f px apart, need %.0f)", quality.eyeDistance,
                    MIN_EYE_DISTANCE);
        }
        if (Math.abs(quality.yaw) > MAX_YAW || Math.abs(quality.pitch) > MAX_PITCH || Math.abs(quality.roll) > MAX_ROLL) {
            return String.format(Locale.US, "Face the camera (yaw %.0f°, pitch %.0f°, roll %.0f°)", quality.yaw,
                    quality.pitch, quality.roll);
        }
        if (quality.sharpness < MIN_SHARPNESS) {
            return String.format(Locale.US, "Hold still, the image is blurred (sharpness %.0f, need %.0f)",
                    quality.sharpness, MIN_SHARPNESS);
        }
        return null;
    }

    /**
     * Offers one frame: the number of faces in it, the track id, quality and embedding of the face to
     * enrol (ignored when {@code faces != 1}), and the time. Returns what to tell the person.
     */
    public String offer(int faces, int trackId, FaceQuality quality, float[] embedding, long timeMs) {
        if (complete()) return "Done";
        String problem = problem(faces, quality);
        if (problem != null) return problem;
        if (track >= 0 && trackId != track) {
            samples.clear();
            track = trackId;
            return "Another face: starting again";
        }
        track = trackId;
        if (samples.isEmpty() || timeMs - lastMs >= msBetween) {
            samples.add(Embeddings.normalize(embedding));
            lastMs = timeMs;
            if (samples.size() == wanted) {
                int odd = outlier(samples, threshold);
                if (odd >= 0) {
                    samples.remove(odd);
                    return String.format(Locale.US, "Sample %d did not look like the others: taking another", odd + 1);
                }
            }
        }
        return String.format(Locale.US, "Sample %d / %d", samples.size(), wanted);
    }

    public boolean complete() {
        return samples.size() == wanted;
    }

    /** The samples taken, normalised. */
    public List<float[]> samples() {
        return Collections.unmodifiableList(samples);
    }

    /**
     * The index of the sample farthest from the mean of the others when that distance is not below
     * {@code threshold} (squared distance of normalised embeddings); -1 when all are consistent.
     */
    public static int outlier(List<float[]> samples, double threshold) {
        int worst = -1;
        double worstDistance = -1;
        for (int i = 0; i < samples.size(); i++) {
            List<float[]> others = new ArrayList<>(samples);
            others.remove(i);
            double distance = Embeddings.squaredDistance(samples.get(i), Embeddings.mean(others));
            if (distance > worstDistance) {
                worstDistance = distance;
                worst = i;
            }
        }
        return worstDistance >= threshold ? worst : -1;
    }

    /** The enrolled person whose mean lies within {@code threshold} of the mean of {@code samples}; null if none. */
    public static Gallery.Match lookalike(Gallery gallery, List<float[]> samples, double threshold) {
        return gallery.identify(Embeddings.mean(samples), threshold);
    }
}
