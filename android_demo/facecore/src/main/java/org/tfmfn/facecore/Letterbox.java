package org.tfmfn.facecore;

/**
 * The detector's view of a photo: padded with black to a centred square of side max(width, height),
 * then resized to the model's input, by area averaging when shrinking and bilinear interpolation
 * when enlarging (OpenCV's INTER_AREA and INTER_LINEAR, which tfmfn uses).
 *
 * <pre>{@code
 * Letterbox letterbox = Letterbox.of(640, 480);                 // side 640, padX 0, padY 80
 * int[] square = letterbox.resize(argb, 640, 480, 192);          // 192 x 192 ARGB
 * float[] input = BlazeFace.input(square);                       // [-1, 1] RGB
 * BlazeFace.Detection face = BlazeFace.toImage(detection, letterbox.side, letterbox.padX, letterbox.padY);
 * }</pre>
 */
public final class Letterbox {
    public final int width, height, side, padX, padY;

    private Letterbox(int width, int height) {
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("an image of " + width + "x" + height + " pixels");
        }
        this.width = width;
        this.height = height;
        side = Math.max(width, height);
        padX = (side - width) / 2;
        padY = (side - height) / 2;
    }

    /** The letterbox of a {@code width} x {@code height} photo. */
    public static Letterbox of(int width, int height) {
        return new Letterbox(width, height);
    }

    /** The padded square resized to {@code size} x {@code size}, as ARGB pixels. */
    public int[] resize(int[] argb, int photoWidth, int photoHeight, int size) {
        if (photoWidth != width || photoHeight != height || argb.length != width * height) {
            throw new IllegalArgumentException(argb.length + " pixels of " + photoWidth + "x" + photoHeight
                    + " for a letterbox of " + width + "x" + height);
        }
        double[][] columns = size < side ? areaWeights(side, size) : bilinearWeights(side, size);
        int[][] columnSources = sources(side, size, columns);
        int[] out = new int[size * size];
        double[] channels = new double[3];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                channels[0] = channels[1] = channels[2] = 0;
                for (int j = 0; j < columnSources[y].length; j++) {
                    int py = columnSources[y][j] - padY;
                    if (py < 0 || py >= height) {
                        continue;
                    }
                    for (int i = 0; i < columnSources[x].length; i++) {
                        int px = columnSources[x][i] - padX;
                        if (px < 0 || px >= width) {
                            continue;
                        }
                        double weight = columns[y][j] * columns[x][i];
                        int pixel = argb[py * width + px];
                        channels[0] += weight * ((pixel >> 16) & 0xff);
                        channels[1] += weight * ((pixel >> 8) & 0xff);
                        channels[2] += weight * (pixel & 0xff);
                    }
                }
                out[y * size + x] = 0xff000000 | (level(channels[0]) << 16) | (level(channels[1]) << 8)
                        | level(channels[2]);
            }
        }
        return out;
    }

    private static int level(double value) {
        return (int) Math.max(0, Math.min(255, Math.round(value)));
    }

    /** Per output position, the share of each source pixel that its interval [d s, (d + 1) s) covers. */
    private static double[][] areaWeights(int source, int size) {
        double scale = source / (double) size;
        double[][] weights = new double[size][];
        for (int d = 0; d < size; d++) {
            double start = d * scale, end = Math.min(source, (d + 1) * scale);
            int first = (int) Math.floor(start), last = Math.min(source - 1, (int) Math.ceil(end) - 1);
            weights[d] = new double[last - first + 1];
            for (int i = first; i <= last; i++) {
                weights[d][i - first] = (Math.min(i + 1, end) - Math.max(i, start)) / scale;
            }
        }
        return weights;
    }

    /** Per output position, the two source pixels around its centre's preimage (clamped at the edges). */
    private static double[][] bilinearWeights(int source, int size) {
        double scale = source / (double) size;
        double[][] weights = new double[size][];
        for (int d = 0; d < size; d++) {
            double position = (d + 0.5) * scale - 0.5;
            int first = (int) Math.floor(position);
            double fraction = position - first;
            if (first < 0) {
                first = 0;
                fraction = 0;
            }
            if (first >= source - 1) {
                fraction = 0;
            }
            weights[d] = new double[] {1 - fraction, fraction};
        }
        return weights;
    }

    /** The source index of each weight: consecutive pixels from the interval's (or the preimage's) first. */
    private static int[][] sources(int source, int size, double[][] weights) {
        double scale = source / (double) size;
        boolean shrinking = size < source;
        int[][] indices = new int[size][];
        for (int d = 0; d < size; d++) {
            int first = shrinking ? (int) Math.floor(d * scale)
                    : Math.max(0, Math.min(source - 1, (int) Math.floor((d + 0.5) * scale - 0.5)));
            indices[d] = new int[weights[d].length];
            for (int k = 0; k < indices[d].length; k++) {
                indices[d][k] = Math.min(source - 1, first + k);
            }
        }
        return indices;
    }
}
