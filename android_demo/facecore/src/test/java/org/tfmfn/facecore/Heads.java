package org.tfmfn.facecore;

import java.util.Random;

/**
 * SYNTHETIC landmark sequences for the liveness and enrolment tests: the alignment template's five points as
 * a head (the nose tip {@link FaceQuality#NOSE_DEPTH} eye distances in front of the eyes and mouth) or as a
 * flat photo of one, turned about the vertical axis and seen by an orthographic camera.
 */
final class Heads {
    private Heads() {}

    /** Five points (x, y interleaved) of a face turned by {@code yawDegrees} (positive: nose to the image's right),
     * {@code scale} times the template's size, its nose in front ({@code solid}) or printed flat. */
    static float[] points(double yawDegrees, double scale, boolean solid) {
        double[][] template = ModelMetadata.ARCFACE_TEMPLATE;
        double centreX = (template[0][0] + template[1][0]) / 2;
        double eyes = Math.hypot(template[1][0] - template[0][0], template[1][1] - template[0][1]);
        double yaw = Math.toRadians(yawDegrees);
        float[] points = new float[10];
        for (int k = 0; k < 5; k++) {
            double depth = solid && k == 2 ? FaceQuality.NOSE_DEPTH * eyes : 0;
            double x = centreX + (template[k][0] - centreX) * Math.cos(yaw) + depth * Math.sin(yaw);
            points[2 * k] = (float) (100 + scale * x);
            points[2 * k + 1] = (float) (80 + scale * template[k][1]);
        }
        return points;
    }

    /** A 112x112 crop: random grey levels ({@code sharp}) or one flat grey (as blurred as it gets). */
    static int[] crop(boolean sharp) {
        Random random = new Random(3);
        int[] argb = new int[112 * 112];
        for (int i = 0; i < argb.length; i++) {
            int grey = sharp ? random.nextInt(256) : 128;
            argb[i] = 0xff000000 | grey << 16 | grey << 8 | grey;
        }
        return argb;
    }

    static FaceQuality quality(double yawDegrees, double scale, boolean sharp) {
        return FaceQuality.of(points(yawDegrees, scale, true), crop(sharp), 112, 112);
    }
}
