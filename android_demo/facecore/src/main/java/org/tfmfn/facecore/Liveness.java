package org.tfmfn.facecore;

import java.util.Arrays;
import java.util.Random;

/**
 * A liveness challenge: the person is asked to turn the head one way and then another, in an order
 * drawn at random, and the turns are read from the five landmarks ({@link FaceQuality#pose}). A real
 * head turning moves the nose tip, which stands in front of the eyes, across the eye line; a photo,
 * however it is turned or tilted, keeps its printed nose where it was between the eyes, so its yaw
 * stays near zero and the challenge times out. A recording of someone turning passes only when its
 * turns happen to be in the order asked: one in {@code 2^turns} for a single recording.
 *
 * <p>Each step: look at the camera (|yaw| below {@link #FRONTAL}), then turn to the side asked until
 * the yaw passes {@link #TURNED} that way; a turn as far the other way fails. After the last turn,
 * back to the camera. All of it within {@code timeoutMs} and by one tracked face. Yaw is positive when
 * the nose points to the image's right: the person's own left, in camera frames that are not mirrored
 * (CameraX's analysis frames, front or back camera).
 *
 * <p>Not covered: a live video on a screen driven in real time, masks, and blinks (five landmarks
 * carry no eyelids).
 *
 * <pre>{@code
 * Liveness challenge = Liveness.random(new SecureRandom(), Liveness.TURNS, Liveness.TIMEOUT_MS);
 * String ask = challenge.prompt();                      // "Turn your head to your left"
 * Liveness.State state = challenge.observe(trackId, landmarks, SystemClock.elapsedRealtime());
 * }</pre>
 */
public final class Liveness {
    /** |yaw| below this, in degrees, is looking at the camera. */
    public static final double FRONTAL = 10;
    /** |yaw| past this, in degrees, is a turn. */
    public static final double TURNED = 20;
    public static final int TURNS = 2;
    public static final long TIMEOUT_MS = 10000;

    /** The person's own left or right. */
    public enum Turn {
        LEFT(1), RIGHT(-1);

        /** The sign of the yaw that this turn makes. */
        final int yawSign;

        Turn(int yawSign) {
            this.yawSign = yawSign;
        }
    }

    public enum State { PENDING, PASSED, FAILED }

    private final Turn[] turns;
    private final long timeoutMs;
    private int step;
    private boolean turned, frontalSeen;
    private int track = -1;
    private long startMs = -1;
    private State state = State.PENDING;
    private String reason = "";

    public Liveness(Turn[] turns, long timeoutMs) {
        if (turns.length == 0 || timeoutMs <= 0) {
            throw new IllegalArgumentException("a challenge needs at least one turn and a positive time limit");
        }
        this.turns = turns.clone();
        this.timeoutMs = timeoutMs;
    }

    /** A challenge of {@code count} turns, each side drawn at random. */
    public static Liveness random(Random random, int count, long timeoutMs) {
        Turn[] turns = new Turn[count];
        for (int i = 0; i < count; i++) {
            turns[i] = random.nextBoolean() ? Turn.LEFT : Turn.RIGHT;
        }
        return new Liveness(turns, timeoutMs);
    }

    /** The turns asked, in order. */
    public Turn[] turns() {
        return turns.clone();
    }

    public State state() {
        return state;
    }

    /** Why the challenge failed; empty otherwise. */
    public String reason() {
        return reason;
    }

    /** What to ask of the person now. */
    public String prompt() {
        if (state == State.PASSED) return "Thank you";
        if (state == State.FAILED) return "Not live: " + reason;
        if (!frontalSeen || turned) return "Look at the camera";
        return "Turn your head to your " + (turns[step] == Turn.LEFT ? "left" : "right");
    }

    /** One frame's five landmarks (x, y interleaved) of the face tracked as {@code trackId}; returns the state. */
    public State observe(int trackId, float[] points, long timeMs) {
        if (state != State.PENDING) return state;
        if (startMs < 0) {
            startMs = timeMs;
            track = trackId;
        }
        if (trackId != track) return fail("another face took the place of the first");
        if (timeMs - startMs > timeoutMs) return fail("no turn as asked within " + timeoutMs / 1000 + " s");
        double yaw = FaceQuality.pose(points)[2];
        boolean frontal = Math.abs(yaw) < FRONTAL;
        if (!frontalSeen) {
            frontalSeen = frontal;
            return state;
        }
        int sign = turns[step].yawSign;
        if (!turned) {
            if (yaw * sign >= TURNED) {
                turned = true;
            } else if (-yaw * sign >= TURNED) {
                return fail("turned " + (turns[step] == Turn.LEFT ? "right" : "left") + " when asked "
                        + (turns[step] == Turn.LEFT ? "left" : "right"));
            }
        } else if (frontal) {
            turned = false;
            step++;
            if (step == turns.length) state = State.PASSED;
        }
        return state;
    }

    private State fail(String why) {
        state = State.FAILED;
        reason = why;
        return state;
    }

    @Override
    public String toString() {
        return "Liveness" + Arrays.toString(turns) + " " + state + (reason.isEmpty() ? "" : ": " + reason);
    }
}
