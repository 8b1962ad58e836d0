package org.tfmfn.facecore;

import java.util.ArrayList;
import java.util.List;

/**
 * Follows faces from frame to frame by box overlap, so that decisions are made about a tracked face
 * rather than about each frame: a box continues the track whose last box it overlaps most (greedy,
 * highest intersection over union first, at least {@link #MIN_IOU}); a box that continues none starts
 * a new track; a track unseen for more than {@code maxMissed} frames ends. Ids are never reused.
 *
 * <pre>{@code
 * FaceTracker tracker = new FaceTracker(FaceTracker.MIN_IOU, FaceTracker.MAX_MISSED);
 * int[] ids = tracker.update(boxes);   // one id per box (x0, y0, x1, y1), same order
 * }</pre>
 */
public final class FaceTracker {
    /** The overlap a box needs with a track's last box to continue it. */
    public static final double MIN_IOU = 0.3;
    /** Frames a track survives without a box (a missed detection, a blink of the detector). */
    public static final int MAX_MISSED = 5;

    private static final class Track {
        final int id;
        float[] box;
        int missed;

        Track(int id, float[] box) {
            this.id = id;
            this.box = box;
        }
    }

    private final double minIou;
    private final int maxMissed;
    private final List<Track> tracks = new ArrayList<>();
    private int nextId = 1;

    public FaceTracker(double minIou, int maxMissed) {
        if (!(minIou > 0 && minIou <= 1) || maxMissed < 0) {
            throw new IllegalArgumentException("need 0 < minIou <= 1 and maxMissed >= 0, got " + minIou + ", " + maxMissed);
        }
        this.minIou = minIou;
        this.maxMissed = maxMissed;
    }

    /** The track id of each box of a new frame, in the boxes' order. */
    public int[] update(List<float[]> boxes) {
        int[] ids = new int[boxes.size()];
        boolean[] continued = new boolean[tracks.size()];
        boolean[] placed = new boolean[boxes.size()];
        while (true) {
            double best = minIou;
            int bestTrack = -1, bestBox = -1;
            for (int t = 0; t < tracks.size(); t++) {
                for (int b = 0; b < boxes.size(); b++) {
                    if (continued[t] || placed[b]) continue;
                    double overlap = iou(tracks.get(t).box, boxes.get(b));
                    if (overlap >= best) {
                        best = overlap;
                        bestTrack = t;
                        bestBox = b;
                    }
                }
            }
            if (bestTrack < 0) break;
            Track track = tracks.get(bestTrack);
            track.box = boxes.get(bestBox);
            track.missed = 0;
            continued[bestTrack] = placed[bestBox] = true;
            ids[bestBox] = track.id;
        }
        List<Track> kept = new ArrayList<>();
        for (int t = 0; t < tracks.size(); t++) {
            Track track = tracks.get(t);
            if (continued[t] || ++track.missed <= maxMissed) kept.add(track);
        }
        for (int b = 0; b < boxes.size(); b++) {
            if (!placed[b]) {
                Track track = new Track(nextId++, boxes.get(b));
                kept.add(track);
                ids[b] = track.id;
            }
        }
        tracks.clear();
        tracks.addAll(kept);
        return ids;
    }

    /** Whether track {@code id} is still followed. */
    public boolean alive(int id) {
        for (Track track : tracks) {
            if (track.id == id) return true;
        }
        return false;
    }

    /** Forgets every track (the camera was switched, the app paused). */
    public void reset() {
        tracks.clear();
    }

    /** Intersection over union of two boxes (x0, y0, x1, y1). */
    public static double iou(float[] a, float[] b) {
        double width = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
        double height = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
        if (width <= 0 || height <= 0) return 0;
        double intersection = width * height;
        double union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection;
        return intersection / union;
    }
}
