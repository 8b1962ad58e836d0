package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Map;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * facecore against tfmfn on a real photo (tests/data/obama.jpg, downscaled) and the real BlazeFace
 * keypoints: the same matrix, crop, input values and scores. Tolerances are stated per test.
 */
public class GoldenTest {
    private static Map<String, double[]> golden;

    @BeforeClass
    public static void load() throws IOException {
        golden = Goldens.values();
    }

    @Test
    public void keypointAlignmentMatrixEqualsTfmfnsToOneMillionth() {
        double[] matrix = Similarity.estimate(
                Goldens.points(golden.get("keypoints")), Goldens.points(golden.get("template")));
        assertArrayEquals(golden.get("keypoint_matrix"), matrix, 1e-6);
    }

    @Test
    public void landmarkAlignmentMatrixEqualsTfmfnsToOneMillionth() {
        double[] matrix = Aligner.matrixFromLandmarks(
                Goldens.floats(golden.get("landmarks")), Goldens.points(golden.get("template5")));
        // The landmarks reach Java as float32: a 1e-5 px rounding moves the translation by about as much.
        assertArrayEquals(golden.get("matrix"), matrix, 1e-4);
    }

    @Test
    public void alignedCropOfTheRealPhotoMatchesOpenCvWithinFourLevels() throws IOException {
        int[] size = new int[2];
        int[] photo = Goldens.image("photo.png", size);
        double[] expectedSize = golden.get("photo_size");
        assertEquals((int) expectedSize[0], size[0]);
        assertEquals((int) expectedSize[1], size[1]);
        int[] crop = Aligner.warp(photo, size[0], size[1], golden.get("matrix"), 112, 112);
        int[] alignedSize = new int[2];
        int[] expected = Goldens.image("aligned.png", alignedSize);
        assertEquals(112 * 112, expected.length);
        double[] difference = Goldens.pixelDifference(expected, crop);
        // OpenCV interpolates with 5-bit fixed-point weights (each off by up to 1/64), facecore in double
        // precision: across an edge of 255 levels that is up to 4 levels.
        assertTrue("max pixel difference " + difference[0], difference[0] <= 4);
        assertTrue("mean pixel difference " + difference[1], difference[1] < 0.5);
    }

    @Test
    public void normalizedInputEqualsTfmfnsExactly() throws IOException {
        int[] size = new int[2];
        assertSampledValuesEqual("normalized", FaceInput.normalize(Goldens.image("aligned.png", size)));
    }

    @Test
    public void int8InputEqualsTfmfnsExactly() throws IOException {
        int[] size = new int[2];
        double[] quantization = golden.get("int8_input");
        byte[] input = FaceInput.quantize(
                Goldens.image("aligned.png", size), (float) quantization[0], (int) quantization[1], true);
        double[] indices = golden.get("sampled_indices");
        double[] expected = golden.get("quantized");
        for (int i = 0; i < indices.length; i++) {
            assertEquals("value " + (int) indices[i], (int) expected[i], input[(int) indices[i]]);
        }
        long sum = 0;
        for (byte value : input) {
            sum += value;
        }
        assertEquals((long) golden.get("quantized_sum")[0], sum);
    }

    @Test
    public void scoresEqualTfmfnsToOneMillionth() {
        float[] a = Goldens.floats(golden.get("embedding_a"));
        float[] b = Goldens.floats(golden.get("embedding_b"));
        assertEquals(golden.get("cosine")[0], Embeddings.cosine(a, b), 1e-6);
        assertEquals(golden.get("squared_distance")[0], Embeddings.squaredDistance(a, b), 1e-6);
    }

    @Test
    public void letterboxOfTheRealPhotoMatchesOpenCvAreaResizeWithinOneLevel() throws IOException {
        int[] size = new int[2];
        int[] photo = Goldens.image("photo.png", size);
        double[] geometry = golden.get("blazeface");
        Letterbox letterbox = Letterbox.of(size[0], size[1]);
        assertEquals((int) geometry[1], letterbox.side);
        assertEquals((int) geometry[2], letterbox.padX);
        assertEquals((int) geometry[3], letterbox.padY);
        int[] square = letterbox.resize(photo, size[0], size[1], (int) geometry[0]);
        assertWithinOneLevel(Goldens.image("detector_input.png", new int[2]), square);
    }

    @Test
    public void letterboxEnlargingMatchesOpenCvBilinearWithinOneLevel() throws IOException {
        int[] size = new int[2];
        int[] small = Goldens.image("small.png", size);
        int[] enlargedSize = new int[2];
        int[] expected = Goldens.image("enlarged.png", enlargedSize);
        int[] enlarged = Letterbox.of(size[0], size[1]).resize(small, size[0], size[1], enlargedSize[0]);
        assertWithinOneLevel(expected, enlarged);
    }

    @Test
    public void detectorInputValuesEqualTfmfnsExactly() throws IOException {
        assertSampledValuesEqual("detector_input", BlazeFace.input(Goldens.image("detector_input.png", new int[2])));
    }

    @Test
    public void matrixFromTheMetadataTemplateEqualsTfmfnsToOneMillionth() throws IOException {
        ModelMetadata metadata = ModelMetadata.read(
                Files.readAllBytes(new File(Goldens.FOLDER, "metadata.tflite").toPath()));
        float[] keypoints = Goldens.floats(golden.get("keypoints"));
        assertArrayEquals(golden.get("keypoint_matrix"), Aligner.matrix(keypoints, metadata.alignmentTemplate), 1e-5);
        float[] landmarks = Goldens.floats(golden.get("landmarks"));
        assertArrayEquals(golden.get("matrix"), Aligner.matrixFromLandmarks(landmarks, metadata.alignmentTemplate), 1e-4);
    }

    private static void assertWithinOneLevel(int[] expected, int[] actual) {
        double worst = Goldens.pixelDifference(expected, actual)[0];
        // OpenCV resizes in fixed point / single precision, facecore in double precision.
        assertTrue("max pixel difference " + worst, worst <= 1);
    }

    /** The largest and the mean absolute difference of two ARGB images' R, G and B levels. */

    /** The values at the goldens' sampled indices equal the golden {@code key} exactly. */
    private static void assertSampledValuesEqual(String key, float[] values) {
        double[] indices = golden.get("sampled_indices");
        double[] expected = golden.get(key);
        for (int i = 0; i < indices.length; i++) {
            assertEquals(key + " value " + (int) indices[i], expected[i], values[(int) indices[i]], 0.0);
        }
    }
}
