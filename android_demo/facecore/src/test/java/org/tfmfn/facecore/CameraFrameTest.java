package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;

import java.nio.ByteBuffer;
import org.junit.Test;

public class CameraFrameTest {
    /** A 3 x 2 RGBA frame whose pixel (x, y) has red 10 * (y * 3 + x), in rows of 16 bytes (padding 4). */
    private static ByteBuffer frame() {
        ByteBuffer rgba = ByteBuffer.allocate(2 * 16);
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 3; x++) {
                rgba.put(y * 16 + 4 * x, (byte) (10 * (y * 3 + x)));
                rgba.put(y * 16 + 4 * x + 1, (byte) 200);
                rgba.put(y * 16 + 4 * x + 3, (byte) 7);  // alpha is dropped
            }
        }
        return rgba;
    }

    /** Red values of the upright frame. */
    private static int[] reds(int rotation) {
        int[] argb = CameraFrame.uprightArgb(frame(), 3, 2, 16, 4, rotation, null);
        int[] reds = new int[argb.length];
        for (int i = 0; i < argb.length; i++) {
            assertEquals(0xff00c800, argb[i] & 0xff00ff00);
            reds[i] = (argb[i] >> 16) & 0xff;
        }
        return reds;
    }

    @Test
    public void rotatesClockwiseAsCameraXRotationDegreesSay() {
        // the frame:  0 10 20      90 degrees clockwise: 30  0     180: 50 40 30     270: 20 50
        //            30 40 50                            40 10          20 10  0          10 40
        //                                                50 20                             0 30
        assertArrayEquals(new int[] {0, 10, 20, 30, 40, 50}, reds(0));
        assertArrayEquals(new int[] {30, 0, 40, 10, 50, 20}, reds(90));
        assertArrayEquals(new int[] {50, 40, 30, 20, 10, 0}, reds(180));
        assertArrayEquals(new int[] {20, 50, 10, 40, 0, 30}, reds(270));
        assertEquals(2, CameraFrame.uprightWidth(3, 2, 90));
        assertEquals(3, CameraFrame.uprightHeight(3, 2, 90));
        assertEquals(3, CameraFrame.uprightWidth(3, 2, 180));
    }

    @Test
    public void writesIntoTheArrayItIsGivenFromFrameToFrame() {
        int[] kept = new int[6];
        assertSame(kept, CameraFrame.uprightArgb(frame(), 3, 2, 16, 4, 90, kept));
        assertSame(kept, CameraFrame.uprightArgb(frame(), 3, 2, 16, 4, 0, kept));
        assertEquals(0xff000000 | 10 << 16 | 200 << 8, kept[1]);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesABufferShorterThanItsStridesSay() {
        CameraFrame.uprightArgb(ByteBuffer.allocate(20), 3, 2, 16, 4, 0, null);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesARotationThatIsNotAQuarterTurn() {
        CameraFrame.uprightArgb(frame(), 3, 2, 16, 4, 45, null);
    }
}
