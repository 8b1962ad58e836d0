package org.tfmfn.facecore;

import java.nio.ByteBuffer;

/**
 * A camera frame's RGBA_8888 plane (CameraX ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888) to upright
 * ARGB pixels, written into an array the caller keeps from frame to frame: no Bitmap, no per-frame
 * full-frame allocation. {@code rotationDegrees} is the clockwise rotation that makes the frame
 * upright (CameraX's ImageInfo.getRotationDegrees()).
 *
 * <pre>{@code
 * ImageProxy.PlaneProxy plane = image.getPlanes()[0];
 * pixels = CameraFrame.uprightArgb(plane.getBuffer(), image.getWidth(), image.getHeight(),
 *         plane.getRowStride(), plane.getPixelStride(), rotation, pixels);
 * int width = CameraFrame.uprightWidth(image.getWidth(), image.getHeight(), rotation);
 * }</pre>
 */
public final class CameraFrame {
    private CameraFrame() {}

    /** The upright frame's width: the height for a quarter turn. */
    public static int uprightWidth(int width, int height, int rotationDegrees) {
        return quarterTurn(rotationDegrees) ? height : width;
    }

    /** The upright frame's height. */
    public static int uprightHeight(int width, int height, int rotationDegrees) {
        return quarterTurn(rotationDegrees) ? width : height;
    }

    /**
     * The frame as upright ARGB pixels, row by row, in {@code reuse} when it holds exactly width x height
     * pixels (else in a new array, returned).
     */
    public static int[] uprightArgb(ByteBuffer rgba, int width, int height, int rowStride, int pixelStride,
                                    int rotationDegrees, int[] reuse) {
        if (width < 1 || height < 1 || pixelStride < 4 || rowStride < width * pixelStride) {
            throw new IllegalArgumentException("an RGBA frame of " + width + "x" + height + " with row stride "
                    + rowStride + " and pixel stride " + pixelStride);
        }
        if (rgba.limit() < (height - 1) * rowStride + width * pixelStride) {
            throw new IllegalArgumentException("an RGBA frame of " + width + "x" + height + " needs more than the "
                    + rgba.limit() + " bytes it has");
        }
        int[] out = reuse != null && reuse.length == width * height ? reuse : new int[width * height];
        int outWidth = uprightWidth(width, height, rotationDegrees);
        byte[] row = new byte[width * pixelStride];
        ByteBuffer rows = rgba.duplicate();
        for (int y = 0; y < height; y++) {
            rows.position(y * rowStride);
            rows.get(row, 0, row.length); // one bulk copy a row: a get per byte costs a bounds check each
            for (int x = 0; x < width; x++) {
                int at = x * pixelStride;
                int pixel = 0xff000000 | (row[at] & 0xff) << 16 | (row[at + 1] & 0xff) << 8 | (row[at + 2] & 0xff);
                out[target(x, y, width, height, outWidth, rotationDegrees)] = pixel;
            }
        }
        return out;
    }

    /** Where source pixel (x, y) lands in the upright frame, row-major. */
    private static int target(int x, int y, int width, int height, int outWidth, int rotationDegrees) {
        switch (rotationDegrees) {
            case 0:
                return y * outWidth + x;
            case 90:
                return x * outWidth + (height - 1 - y);
            case 180:
                return (height - 1 - y) * outWidth + (width - 1 - x);
            case 270:
                return (width - 1 - x) * outWidth + y;
            default:
                throw new IllegalArgumentException("a rotation of " + rotationDegrees + " degrees; expected 0, 90, 180 or 270");
        }
    }

    private static boolean quarterTurn(int rotationDegrees) {
        return rotationDegrees == 90 || rotationDegrees == 270;
    }
}
