package org.tfmfn.facecore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.Test;

public class LivenessTest {
    private static final Liveness.Turn LEFT = Liveness.Turn.LEFT, RIGHT = Liveness.Turn.RIGHT;

    /** SYNTHETIC: the yaw of a head turning to each side in turn and back, 10 frames a second. */
    private static List<float[]> turning(boolean solid, double... yaws) {
        List<float[]> frames = new ArrayList<>();
        for (double yaw : yaws) frames.add(Heads.points(yaw, 3, solid));
        return frames;
    }

    private static final double[] LEFT_THEN_RIGHT = {0, 2, 12, 24, 30, 18, 4, -8, -22, -31, -15, 0, 1};

    private static Liveness.State play(Liveness challenge, List<float[]> frames, int track) {
        long time = 0;
        for (float[] points : frames) {
            challenge.observe(track, points, time);
            time += 100;
        }
        return challenge.state();
    }

    @Test
    public void livenessPassesAHeadTurningAsAsked() {
        Liveness challenge = new Liveness(new Liveness.Turn[] {LEFT, RIGHT}, Liveness.TIMEOUT_MS);
        assertEquals("Look at the camera", challenge.prompt());
        challenge.observe(1, Heads.points(0, 3, true), 0);
        assertEquals("Turn your head to your left", challenge.prompt());
        assertEquals(Liveness.State.PASSED, play(challenge, turning(true, LEFT_THEN_RIGHT), 1));
        assertEquals(30, FaceQuality.pose(Heads.points(30, 3, true))[2], 1e-3); // the head model gives the yaw back
    }

    @Test
    public void livenessFailsAStillPhoto() {
        Liveness challenge = new Liveness(new Liveness.Turn[] {LEFT, RIGHT}, Liveness.TIMEOUT_MS);
        long time = 0;
        while (time <= Liveness.TIMEOUT_MS + 100) {
            challenge.observe(1, Heads.points(0, 3, true), time);
            time += 100;
        }
        assertEquals(Liveness.State.FAILED, challenge.state());
        assertTrue(challenge.reason(), challenge.reason().startsWith("no turn as asked"));
    }

    @Test
    public void livenessFailsAPhotoTurnedAsTheHeadWouldBe() {
        // the printed nose stays between the eyes however far the photo is turned: its yaw never leaves frontal
        List<float[]> photo = turning(false, LEFT_THEN_RIGHT);
        for (float[] points : photo) {
            assertTrue(Math.abs(FaceQuality.pose(points)[2]) < Liveness.FRONTAL);
        }
        Liveness challenge = new Liveness(new Liveness.Turn[] {LEFT, RIGHT}, 1000);
        List<float[]> longer = new ArrayList<>(photo);
        longer.addAll(photo);
        assertEquals(Liveness.State.FAILED, play(challenge, longer, 1));
    }

    @Test
    public void livenessFailsAReplayedTurnInAnotherOrder() {
        // a recording of the person turning left then right, replayed to a challenge that asks right first
        Liveness challenge = new Liveness(new Liveness.Turn[] {RIGHT, LEFT}, Liveness.TIMEOUT_MS);
        assertEquals(Liveness.State.FAILED, play(challenge, turning(true, LEFT_THEN_RIGHT), 1));
        assertEquals("turned left when asked right", challenge.reason());
    }

    @Test
    public void livenessFailsWhenAnotherFaceTakesOver() {
        Liveness challenge = new Liveness(new Liveness.Turn[] {LEFT}, Liveness.TIMEOUT_MS);
        challenge.observe(1, Heads.points(0, 3, true), 0);
        challenge.observe(1, Heads.points(25, 3, true), 100);
        assertEquals(Liveness.State.FAILED, challenge.observe(2, Heads.points(0, 3, true), 200));
        assertTrue(challenge.prompt().startsWith("Not live: another face"));
    }

    @Test
    public void livenessDrawsEveryOrderOfTurns() {
        Random random = new Random(1);
        Set<String> orders = new HashSet<>();
        for (int i = 0; i < 64; i++) {
            orders.add(Arrays.toString(Liveness.random(random, Liveness.TURNS, Liveness.TIMEOUT_MS).turns()));
        }
        assertEquals(4, orders.size()); // a single recording matches one challenge in four
    }
}
