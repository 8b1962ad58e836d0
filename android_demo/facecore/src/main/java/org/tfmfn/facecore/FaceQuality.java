package org.tfmfn.facecore;

/**
 * How usable a face is, as tfmfn.face.quality computes it: the eye distance in pixels (face size), roll,
 * yaw and pitch in degrees from the five landmarks (a head model with the nose tip half an eye
 * distance in front of the eyes), and the sharpness of the aligned crop (variance of the Laplacian
 * of its grey levels, inner pixels). Estimates for "face the camera" and "turn your head" checks.
 *
 * <pre>{@code
 * FaceQuality quality = FaceQuality.of(landmarks.points, alignedArgb, 112, 112);
 * boolean frontal = Math.abs(quality.yaw) < 20 && Math.abs(quality.pitch) < 20;
 * }</pre>
 */
public final class FaceQuality {
    /** How far the nose tip stands in front of the eyes, in eye distances. */
    public static final double NOSE_DEPTH = 0.5;
    private static final double[][] TEMPLATE = {
        {38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}
    };
    private static final double EYE_LINE = (TEMPLATE[0][1] + TEMPLATE[1][1]) / 2;
    private static final double MOUTH_LINE = (TEMPLATE[3][1] + TEMPLATE[4][1]) / 2;
    /** (nose - eye line) / (mouth line - eye line), vertically, in the alignment template (a level face). */
    public static final double FRONTAL_NOSE_RATIO = (TEMPLATE[2][1] - EYE_LINE) / (MOUTH_LINE - EYE_LINE);
    /** The template's mouth line below its eye line, in eye distances. */
    public static final double FRONTAL_MOUTH_DROP = (MOUTH_LINE - EYE_LINE)
            / Math.hypot(TEMPLATE[1][0] - TEMPLATE[0][0], TEMPLATE[1][1] - TEMPLATE[0][1]);

    public final double eyeDistance, roll, yaw, pitch, sharpness;

    private FaceQuality(double eyeDistance, double roll, double yaw, double pitch, double sharpness) {
        this.eyeDistance = eyeDistance;
        this.roll = roll;
        this.yaw = yaw;
        this.pitch = pitch;
        this.sharpness = sharpness;
    }

    /** The signals of five landmarks (x, y interleaved; image-left eye first) and their aligned ARGB crop. */
    public static FaceQuality of(float[] points, int[] alignedArgb, int width, int height) {
        double[] pose = pose(points);
        return new FaceQuality(pose[0], pose[1], pose[2], pose[3], sharpness(alignedArgb, width, height));
    }

    /** {eye distance, roll, yaw, pitch} of five landmarks. */
    public static double[] pose(float[] points) {
        if (points.length != 10) {
            throw new IllegalArgumentException("need 5 landmarks (10 coordinates), got " + points.length);
        }
        double eyeX = points[2] - points[0], eyeY = points[3] - points[1];
        double eyeDistance = Math.hypot(eyeX, eyeY);
        double roll = Math.atan2(eyeY, eyeX);
        double cosine = Math.cos(-roll), sine = Math.sin(-roll);
        double centreX = (points[0] + points[2]) / 2, centreY = (points[1] + points[3]) / 2;
        double[] levelX = new double[5], levelY = new double[5];
        for (int k = 0; k < 5; k++) {
            double x = points[2 * k] - centreX, y = points[2 * k + 1] - centreY;
            levelX[k] = cosine * x - sine * y;
            levelY[k] = sine * x + cosine * y;
        }
        double mouthX = (levelX[3] + levelX[4]) / 2, mouthY = (levelY[3] + levelY[4]) / 2;
        double scale = Math.max(eyeDistance, 1e-9);
        double yaw = Math.atan((levelX[2] - mouthX / 2) / (NOSE_DEPTH * scale));
        double lineGap = Math.max(mouthY, 1e-9);
        double pitch = Math.atan((levelY[2] / lineGap - FRONTAL_NOSE_RATIO) * FRONTAL_MOUTH_DROP / NOSE_DEPTH);
        return new double[] {eyeDistance, Math.toDegrees(roll), Math.toDegrees(yaw), Math.toDegrees(pitch)};
    }

    /** Variance of the 4-neighbour Laplacian of the crop's grey levels (0.299 R + 0.587 G + 0.114 B), inner pixels. */
    public static double sharpness(int[] argb, int width, int height) {
        if (argb.length != width * height || width < 3 || height < 3) {
            throw new IllegalArgumentException(argb.length + " pixels for a " + width + "x" + height + " crop");
        }
        double[] grey = new double[argb.length];
        for (int i = 0; i < argb.length; i++) {
            int pixel = argb[i];
            grey[i] = 0.299 * ((pixel >> 16) & 0xff) + 0.587 * ((pixel >> 8) & 0xff) + 0.114 * (pixel & 0xff);
        }
        double sum = 0, squares = 0;
        int count = 0;
        for (int y = 1; y < height - 1; y++) {
            for (int x = 1; x < width - 1; x++) {
                int i = y * width + x;
                double value = grey[i - width] + grey[i + width] + grey[i - 1] + grey[i + 1] - 4 * grey[i];
                sum += value;
                squares += value * value;
                count++;
            }
        }
        double mean = sum / count;
        return Math.max(squares / count - mean * mean, 0);
    }
}
