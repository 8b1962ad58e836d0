package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import org.junit.Test;

public class FaceTrackerTest {
    private static float[] box(float x, float y) {
        return new float[] {x, y, x + 100, y + 100};
    }

    @Test
    public void trackingKeepsAnIdWhileTheFaceMovesALittle() {
        FaceTracker tracker = new FaceTracker(FaceTracker.MIN_IOU, FaceTracker.MAX_MISSED);
        int id = tracker.update(Collections.singletonList(box(0, 0)))[0];
        for (int step = 1; step <= 10; step++) {
            assertEquals(id, tracker.update(Collections.singletonList(box(8 * step, 3 * step)))[0]);
        }
    }

    @Test
    public void trackingFollowsTwoFacesAndGivesANewOneANewId() {
        FaceTracker tracker = new FaceTracker(FaceTracker.MIN_IOU, FaceTracker.MAX_MISSED);
        int[] first = tracker.update(Arrays.asList(box(0, 0), box(300, 0)));
        assertNotEquals(first[0], first[1]);
        int[] swapped = tracker.update(Arrays.asList(box(305, 5), box(5, 5), box(600, 0)));
        assertArrayEquals(new int[] {first[1], first[0], Math.max(first[0], first[1]) + 1}, swapped);
    }

    @Test
    public void trackingSurvivesAFewMissedFramesButNotMore() {
        FaceTracker tracker = new FaceTracker(FaceTracker.MIN_IOU, 2);
        int id = tracker.update(Collections.singletonList(box(0, 0)))[0];
        tracker.update(Collections.<float[]>emptyList());
        tracker.update(Collections.<float[]>emptyList());
        assertTrue(tracker.alive(id));
        assertEquals(id, tracker.update(Collections.singletonList(box(2, 2)))[0]);
        for (int i = 0; i < 3; i++) tracker.update(Collections.<float[]>emptyList());
        assertFalse(tracker.alive(id));
        assertNotEquals(id, tracker.update(Collections.singletonList(box(2, 2)))[0]);
    }

    @Test
    public void trackingStartsANewTrackForAFaceThatJumped() {
        FaceTracker tracker = new FaceTracker(FaceTracker.MIN_IOU, FaceTracker.MAX_MISSED);
        int id = tracker.update(Collections.singletonList(box(0, 0)))[0];
        assertNotEquals(id, tracker.update(Collections.singletonList(box(80, 0)))[0]); // IoU 20/180 < 0.3
        assertEquals(1.0 / 3, FaceTracker.iou(box(0, 0), box(50, 0)), 1e-12);
    }
}
