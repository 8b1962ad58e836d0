package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The landmark stage against tfmfn on the real photo of the goldens: ONet's crops of each pass, the
 * landmarks decoded from its recorded outputs, and the aligned face that the whole chain (BlazeFace's
 * box, two ONet passes, the five-point similarity, the warp) makes in Java.
 */
public class LandmarksTest {
    private static Map<String, double[]> golden;
    private static int[] photo;
    private static int width, height;

    @BeforeClass
    public static void load() throws IOException {
        golden = Goldens.values();
        int[] size = new int[2];
        photo = Goldens.image("photo.png", size);
        width = size[0];
        height = size[1];
    }

    /** Replays tfmfn's ONet outputs pass by pass, keeping the inputs Java gave it. */
    private static final class Replay implements Landmarks.Runner {
        final List<float[]> inputs = new ArrayList<>();

        @Override
        public float[][] run(float[] input) {
            int pass = inputs.size();
            inputs.add(input);
            float[] outputs = Goldens.floats(Arrays.copyOfRange(golden.get("onet_outputs"), 16 * pass, 16 * pass + 16));
            return new float[][] {
                Arrays.copyOfRange(outputs, 0, 4), Arrays.copyOfRange(outputs, 4, 14), Arrays.copyOfRange(outputs, 14, 16)
            };
        }
    }

    private static double[] detectionBox() {
        return golden.get("detection_box").clone();
    }

    @Test
    public void boxesAndCropMatricesOfEachPassEqualTfmfns() {
        Replay replay = new Replay();
        Landmarks.locate(photo, width, height, detectionBox(), replay, Landmarks.PASSES);
        double[] boxes = golden.get("onet_boxes");
        double[] matrices = golden.get("onet_box_matrices");
        double[] box = detectionBox();
        for (int pass = 0; pass < Landmarks.PASSES; pass++) {
            assertArrayEquals(Arrays.copyOfRange(boxes, 4 * pass, 4 * pass + 4), box, 1e-4);
            assertArrayEquals(Arrays.copyOfRange(matrices, 6 * pass, 6 * pass + 6), Landmarks.boxMatrix(box), 1e-6);
            float[] correction = Goldens.floats(Arrays.copyOfRange(golden.get("onet_outputs"), 16 * pass, 16 * pass + 4));
            box = Landmarks.correctedBox(correction, box);
        }
    }

    @Test
    public void onetInputsOfEachPassMatchTfmfnsCropsWithinFourLevels() throws IOException {
        Replay replay = new Replay();
        Landmarks.locate(photo, width, height, detectionBox(), replay, Landmarks.PASSES);
        assertEquals(Landmarks.PASSES, replay.inputs.size());
        for (int pass = 0; pass < Landmarks.PASSES; pass++) {
            float[] expected = FaceInput.normalize(Goldens.image("onet_crop_" + pass + ".png", new int[2]));
            float[] actual = replay.inputs.get(pass);
            assertEquals(Landmarks.INPUT_SIDE * Landmarks.INPUT_SIDE * 3, actual.length);
            double worst = 0;
            for (int i = 0; i < actual.length; i++) {
                worst = Math.max(worst, Math.abs(expected[i] - actual[i]) * FaceInput.PIXEL_SCALE);
            }
            // OpenCV interpolates with 5-bit fixed-point weights (each off by up to 1/64), facecore in
            // double precision: across an edge of 255 levels that is up to 4 levels.
            assertTrue("pass " + pass + ": max pixel difference " + worst, worst <= 4);
        }
    }

    @Test
    public void landmarksEqualTfmfnsWithinAHundredthOfAPixel() {
        Landmarks.Result found = Landmarks.locate(photo, width, height, detectionBox(), new Replay(), Landmarks.PASSES);
        float[] expected = Goldens.floats(golden.get("landmarks"));
        assertArrayEquals(expected, found.points, 0.01f);
        double[] outputs = golden.get("onet_outputs");
        assertEquals(outputs[outputs.length - 1], found.score, 1e-6);
    }

    @Test
    public void wholeChainAlignsTheRealPhotoAsTfmfnWithinFourLevels() throws IOException {
        Landmarks.Result found = Landmarks.locate(photo, width, height, detectionBox(), new Replay(), Landmarks.PASSES);
        double[][] template = Goldens.points(golden.get("template5"));
        int[] crop = Aligner.warp(photo, width, height, Aligner.matrixFromLandmarks(found.points, template), 112, 112);
        double[] difference = Goldens.pixelDifference(Goldens.image("aligned.png", new int[2]), crop);
        assertTrue("max pixel difference " + difference[0], difference[0] <= 4);
        assertTrue("mean pixel difference " + difference[1], difference[1] < 0.5);
    }

    @Test(expected = IllegalArgumentException.class)
    public void pointsOtherThanTenCoordinatesAreRefused() {
        Landmarks.points(new float[8], new double[] {0, 0, 10, 10});
    }

    @Test
    public void squareKeepsTheCentreAndTheLongerSide() {
        assertArrayEquals(new double[] {5, 0, 20}, Landmarks.square(new double[] {10, 0, 20, 20}), 1e-12);
    }

    @Test
    public void qualitySignalsEqualTfmfns() throws IOException {
        double[] expected = golden.get("quality");
        FaceQuality quality = FaceQuality.of(
                Goldens.floats(golden.get("landmarks")), Goldens.image("aligned.png", new int[2]), 112, 112);
        // Landmarks reach Java as float32: angles agree to 1e-4 degrees, the eye distance to 1e-4 px.
        assertEquals(expected[0], quality.eyeDistance, 1e-4);
        assertEquals(expected[1], quality.roll, 1e-4);
        assertEquals(expected[2], quality.yaw, 1e-4);
        assertEquals(expected[3], quality.pitch, 1e-4);
        assertEquals(expected[4], quality.sharpness, 1e-9 * expected[4]);
    }

    @Test
    public void aHeadTurnedByTheModelGivesItsYawAndPitchBack() {
        double[][] template = {
            {38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}
        };
        double eyeDistance = Math.hypot(template[1][0] - template[0][0], template[1][1] - template[0][1]);
        double[] depth = {0, 0, -FaceQuality.NOSE_DEPTH * eyeDistance, 0, 0};
        double angle = Math.toRadians(25);
        float[] turned = new float[10], nodded = new float[10];
        for (int k = 0; k < 5; k++) {
            double x = template[k][0] - 56, y = template[k][1] - 51.6;
            turned[2 * k] = (float) (Math.cos(angle) * x + Math.sin(angle) * depth[k]);
            turned[2 * k + 1] = (float) y;
            nodded[2 * k] = (float) x;
            nodded[2 * k + 1] = (float) (Math.cos(angle) * y - Math.sin(angle) * depth[k]);
        }
        assertEquals(-25, FaceQuality.pose(turned)[2], 0.5);
        assertEquals(25, FaceQuality.pose(nodded)[3], 0.5);
        assertEquals(0, FaceQuality.pose(nodded)[2], 0.5);
    }
}
