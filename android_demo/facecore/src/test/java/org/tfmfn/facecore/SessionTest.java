package org.tfmfn.facecore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.Test;

/** SYNTHETIC sessions: landmark sequences from {@link Heads}, embeddings as directions plus noise. */
public class SessionTest {
    private static final OperatingPoint VERIFY = OperatingPoint.appDefault(OperatingPoint.VERIFY, 1.0);
    private static final OperatingPoint IDENTIFY = OperatingPoint.appDefault(OperatingPoint.IDENTIFY, 0.9);
    private final Random noise = new Random(4);

    private static float[] person(int seed) {
        Random random = new Random(seed);
        float[] direction = new float[32];
        for (int i = 0; i < direction.length; i++) direction[i] = (float) random.nextGaussian();
        return Embeddings.normalize(direction);
    }

    private float[] sample(float[] person) {
        float[] embedding = person.clone();
        for (int i = 0; i < embedding.length; i++) embedding[i] += 0.05f * (float) noise.nextGaussian();
        return embedding;
    }

    private static float[] box(float x) {
        return new float[] {x, 0, x + 200, 200};
    }

    private Session.Face face(float x, double yaw, float[] person, Session session) {
        return new Session.Face(box(x), Heads.points(yaw, 1.5, true), Heads.quality(yaw, 1.5, true),
                session.needsEmbeddings() ? sample(person) : null);
    }

    private static Gallery gallery() {
        Gallery gallery = new Gallery("m@1", 32);
        gallery.enroll("ada", person(1));
        gallery.enroll("grace", person(2));
        return gallery;
    }

    /** The yaws of the turns the session's challenge asks, each out and back, after a frontal start. */
    private static List<Double> turnsAsked(Session session) {
        List<Double> yaws = new ArrayList<>(Arrays.asList(0.0, 0.0));
        for (Liveness.Turn turn : session.challenge().turns()) {
            double sign = turn == Liveness.Turn.LEFT ? 1 : -1;
            yaws.addAll(Arrays.asList(12 * sign, 28 * sign, 12 * sign, 0.0));
        }
        return yaws;
    }

    private Session.Outcome play(Session session, float[] who, List<Double> yaws, long[] time) {
        Session.Outcome outcome = null;
        for (double yaw : yaws) {
            outcome = session.frame(Collections.singletonList(face(0, yaw, who, session)), time[0]);
            time[0] += 100;
        }
        return outcome;
    }

    @Test
    public void sessionVerifyDecidesNothingForAStillFace() {
        Session session = new Session(gallery(), VERIFY, IDENTIFY, new Random(1));
        session.verify("ada");
        long[] time = {0};
        Session.Outcome outcome = play(session, person(1), Collections.nCopies(60, 0.0), time);
        assertFalse(session.needsEmbeddings()); // no embedding was even computed
        outcome = play(session, person(1), Collections.nCopies(50, 0.0), time);
        assertEquals(Session.Kind.NO_MATCH, outcome.labels.get(0).kind);
        assertTrue(outcome.labels.get(0).text, outcome.labels.get(0).text.startsWith("Not live: no turn as asked"));
    }

    @Test
    public void sessionVerifyAcceptsTheRightPersonAfterTheChallengeAndAVote() {
        Session session = new Session(gallery(), VERIFY, IDENTIFY, new Random(2));
        session.verify("ada");
        long[] time = {0};
        play(session, person(1), Collections.singletonList(0.0), time);
        play(session, person(1), turnsAsked(session), time);
        assertTrue(session.needsEmbeddings());
        Session.Outcome outcome = play(session, person(1), Arrays.asList(0.0, 0.0), time);
        assertEquals("… 2/3", outcome.labels.get(0).text);
        outcome = play(session, person(1), Collections.singletonList(0.0), time);
        assertEquals("✓ ada", outcome.labels.get(0).text);
        assertEquals(Session.Kind.MATCH, outcome.labels.get(0).kind);
        assertTrue(outcome.status, outcome.status.contains("not measured"));
    }

    @Test
    public void sessionVerifyRejectsSomeoneElseOncePerTrack() {
        Session session = new Session(gallery(), VERIFY, IDENTIFY, new Random(3));
        session.verify("ada");
        long[] time = {0};
        play(session, person(2), Collections.singletonList(0.0), time);
        play(session, person(2), turnsAsked(session), time);
        Session.Outcome outcome = play(session, person(2), Arrays.asList(0.0, 0.0, 0.0), time);
        assertEquals("✗ not ada", outcome.labels.get(0).text);
        outcome = play(session, person(1), Arrays.asList(0.0, 0.0, 0.0, 0.0), time); // same track: no new decision
        assertEquals("✗ not ada", outcome.labels.get(0).text);
    }

    @Test
    public void sessionIdentifyLabelsEveryFaceInTheFrame() {
        Session session = new Session(gallery(), VERIFY, IDENTIFY, new Random(4));
        session.identify();
        Session.Outcome outcome = null;
        for (int frame = 0; frame < 3; frame++) {
            outcome = session.frame(Arrays.asList(face(0, 0, person(1), session), face(400, 0, person(2), session),
                    face(800, 0, person(9), session)), 100 * frame);
        }
        assertEquals("✓ ada", outcome.labels.get(0).text);
        assertEquals("✓ grace", outcome.labels.get(1).text);
        assertEquals("✗ unknown", outcome.labels.get(2).text);
    }

    @Test
    public void sessionEnrollPassesTheChallengeTakesSamplesAndNamesALookalike() {
        Session session = new Session(gallery(), VERIFY, IDENTIFY, new Random(5));
        session.enroll("ada again");
        long[] time = {0};
        play(session, person(1), Collections.singletonList(0.0), time);
        play(session, person(1), turnsAsked(session), time);
        Session.Outcome outcome = null;
        for (int frame = 0; frame < 40 && (outcome == null || outcome.enrolledName == null); frame++) {
            outcome = play(session, person(1), Collections.singletonList(0.0), time);
        }
        assertEquals("ada again", outcome.enrolledName);
        assertEquals(Session.SAMPLES, outcome.enrolledSamples.size());
        assertNotNull(outcome.lookalike);
        assertEquals("ada", outcome.lookalike.name);
        assertEquals(Session.Mode.WATCH, session.mode());
    }

    @Test
    public void sessionWatchNeedsNeitherLandmarksNorEmbeddings() {
        Session session = new Session(gallery(), VERIFY, IDENTIFY, new Random(6));
        assertFalse(session.needsLandmarks());
        assertFalse(session.needsEmbeddings());
        Session.Outcome outcome = session.frame(Collections.singletonList(new Session.Face(box(0), null, null, null)), 0);
        assertEquals("face", outcome.labels.get(0).text);
        assertNull(outcome.enrolledName);
    }
}
