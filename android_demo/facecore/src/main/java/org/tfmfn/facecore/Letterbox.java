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
    private Taps taps;
    private int tapsSize;

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
        return resize(argb, photoWidth, photoHeight, size, null);
    }

    /**
     * The padded square resized to {@code size} x {@code size}, in {@code reuse} when it holds exactly that many
     * pixels (else in a new array, returned). The resampling taps are kept for the next frame of this size.
     */
    public int[] resize(int[] argb, int photoWidth, int photoHeight, int size, int[] reuse) {
        if (photoWidth != width || photoHeight != height || argb.length != width * height) {
            throw new IllegalArgumentException(argb.length + " pixels of " + photoWidth + "x" + photoHeight
                    + " for a letterbox of " + width + "x" + height);
        }
        if (taps == null || tapsSize != size) {
            taps = size < side ? Taps.area(side, size) : Taps.bilinear(side, size);
            tapsSize = size;
        }
        int[] out = reuse != null && reuse.length == size * size ? reuse : new int[size * size];
        double[] channels = new double[3];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                channels[0] = channels[1] = channels[2] = 0;
                for (int j = 0; j < taps.sources[y].length; j++) {
                    int py = taps.sources[y][j] - padY;
                    if (py < 0 || py >= height) {
                        continue;
                    }
                    for (int i = 0; i < taps.sources[x].length; i++) {
                        int px = taps.sources[x][i] - padX;
                        if (px < 0 || px >= width) {
                            continue;
                        }
                        double weight = taps.weights[y][j] * taps.weights[x][i];
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

    /** Per output position along one axis (the square is resized alike in both): source pixels and weights. */
    private static final class Taps {
        final int[][] sources;
        final double[][] weights;

        private Taps(int size) {
            sources = new int[size][];
            weights = new double[size][];
        }

        /** Area averaging: each source pixel weighted by the share of [d s, (d + 1) s) it covers. */
        static Taps area(int source, int size) {
            double scale = source / (double) size;
            Taps taps = new Taps(size);
            for (int d = 0; d < size; d++) {
                double start = d * scale, end = Math.min(source, (d + 1) * scale);
                int first = (int) Math.floor(start), last = Math.min(source - 1, (int) Math.ceil(end) - 1);
                taps.sources[d] = new int[last - first + 1];
                taps.weights[d] = new double[last - first + 1];
                for (int i = first; i <= last; i++) {
                    taps.sources[d][i - first] = i;
                    taps.weights[d][i - first] = (Math.min(i + 1, end) - Math.max(i, start)) / scale;
                }
            }
            return taps;
        }

        /** Bilinear: the two source pixels around the output centre's preimage, clamped at the edges. */
        static Taps bilinear(int source, int size) {
            double scale = source / (double) size;
            Taps taps = new Taps(size);
            for (int d = 0; d < size; d++) {
                double position = (d + 0.5) * scale - 0.5;
                int first = (int) Math.floor(position);
                double fraction = position - first;
                if (first < 0) {
                    first = 0;
                    fraction = 0;
                }
                if (first >= source - 1) {
                    first = source - 1;
                    fraction = 0;
                }
                taps.sources[d] = new int[] {first, Math.min(source - 1, first + 1)};
                taps.weights[d] = new double[] {1 - fraction, fraction};
            }
            return taps;
        }
    }
}
