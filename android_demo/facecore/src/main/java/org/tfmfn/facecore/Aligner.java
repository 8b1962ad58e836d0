package org.tfmfn.facecore;

/**
 * Warps a photo through a 2x3 matrix into an aligned face crop: each output pixel takes the bilinear
 * mix of the four photo pixels around its preimage, pixels outside the photo counting as black (as
 * OpenCV's warpAffine with INTER_LINEAR and a constant border does in tfmfn).
 */
public final class Aligner {
    private Aligner() {}

    /**
     * The similarity matrix that maps a detection onto the alignment template: BlazeFace's eyes, nose
     * tip and mouth centre (its first four keypoints) onto the template's eyes, nose and the mean of its
     * mouth corners (the five (x, y) points of tfmfn's metadata).
     */
    public static double[] matrix(float[] keypoints, double[][] template) {
        if (keypoints.length < 8 || template.length != 5) {
            throw new IllegalArgumentException(
                    "need 4 detected points and a 5-point template, got " + keypoints.length / 2 + " and " + template.length);
        }
        double[][] source = new double[4][], target = new double[4][];
        for (int k = 0; k < 4; k++) {
            source[k] = new double[] {keypoints[2 * k], keypoints[2 * k + 1]};
        }
        for (int k = 0; k < 3; k++) {
            target[k] = template[k].clone();
        }
        target[3] = new double[] {(template[3][0] + template[4][0]) / 2, (template[3][1] + template[4][1]) / 2};
        return Similarity.estimate(source, target);
    }

    /**
     * The similarity matrix that maps five landmarks (eye centres, nose tip, mouth corners; x, y
     * interleaved, as {@link Landmarks} gives them) onto the five points of the alignment template.
     */
    public static double[] matrixFromLandmarks(float[] points, double[][] template) {
        if (points.length != 10 || template.length != 5) {
            throw new IllegalArgumentException(
                    "need 5 landmarks and a 5-point template, got " + points.length / 2 + " and " + template.length);
        }
        double[][] source = new double[5][];
        for (int k = 0; k < 5; k++) {
            source[k] = new double[] {points[2 * k], points[2 * k + 1]};
        }
        return Similarity.estimate(source, template);
    }

    /** The {@code outWidth} x {@code outHeight} ARGB crop of the {@code width} x {@code height} ARGB photo. */
    public static int[] warp(int[] argb, int width, int height, double[] matrix, int outWidth, int outHeight) {
        return warp(argb, width, height, matrix, outWidth, outHeight, null);
    }

    /** The crop, in {@code reuse} when it holds exactly {@code outWidth x outHeight} pixels (else in a new array). */
    public static int[] warp(int[] argb, int width, int height, double[] matrix, int outWidth, int outHeight, int[] reuse) {
        if (argb.length != width * height) {
            throw new IllegalArgumentException(argb.length + " pixels for a " + width + "x" + height + " image");
        }
        double[] inverse = Similarity.invert(matrix);
        int[] out = reuse != null && reuse.length == outWidth * outHeight ? reuse : new int[outWidth * outHeight];
        for (int y = 0; y < outHeight; y++) {
            for (int x = 0; x < outWidth; x++) {
                double sourceX = inverse[0] * x + inverse[1] * y + inverse[2];
                double sourceY = inverse[3] * x + inverse[4] * y + inverse[5];
                out[y * outWidth + x] = sample(argb, width, height, sourceX, sourceY);
            }
        }
        return out;
    }

    private static int sample(int[] argb, int width, int height, double x, double y) {
        int x0 = (int) Math.floor(x), y0 = (int) Math.floor(y);
        double fx = x - x0, fy = y - y0;
        double red = 0, green = 0, blue = 0;
        for (int dy = 0; dy <= 1; dy++) {
            for (int dx = 0; dx <= 1; dx++) {
                int px = x0 + dx, py = y0 + dy;
                if (px < 0 || py < 0 || px >= width || py >= height) {
                    continue;
                }
                double weight = (dx == 0 ? 1 - fx : fx) * (dy == 0 ? 1 - fy : fy);
                int pixel = argb[py * width + px];
                red += weight * ((pixel >> 16) & 0xff);
                green += weight * ((pixel >> 8) & 0xff);
                blue += weight * (pixel & 0xff);
            }
        }
        int r = (int) Math.round(red), g = (int) Math.round(green), b = (int) Math.round(blue);
        return 0xff000000 | (r << 16) | (g << 8) | b;
    }
}
