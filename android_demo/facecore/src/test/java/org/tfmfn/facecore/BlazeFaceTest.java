package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.BeforeClass;
import org.junit.Test;

public class BlazeFaceTest {
    private static final float[][] FULL = BlazeFace.anchors(192, new int[] {4}, false);
    private static final float[][] SHORT = BlazeFace.anchors(128, new int[] {8, 16, 16, 16}, true);
    private static Map<String, double[]> golden;

    @BeforeClass
    public static void load() throws IOException {
        golden = Goldens.values();
    }

    @Test
    public void anchorsAreTfmfnsForBothModels() {
        assertEquals((int) golden.get("anchor_counts")[0], FULL.length);
        assertEquals((int) golden.get("anchor_counts")[1], SHORT.length);
        double[] sampled = golden.get("sampled_anchors");
        for (int i = 0; i < sampled.length; i++) {
            int index = (int) sampled[i];
            assertEquals(golden.get("anchors_full")[2 * i], FULL[index][0], 1e-7);
            assertEquals(golden.get("anchors_full")[2 * i + 1], FULL[index][1], 1e-7);
            assertEquals(golden.get("anchors_short")[2 * i], SHORT[index % SHORT.length][0], 1e-7);
            assertEquals(golden.get("anchors_short")[2 * i + 1], SHORT[index % SHORT.length][1], 1e-7);
        }
    }

    @Test
    public void realPhotoOutputsDecodeToTfmfnsDetectionsInPixels() {
        double[] settings = golden.get("blazeface");
        float[] scores = new float[FULL.length];
        Arrays.fill(scores, -100f);
        float[] regressors = new float[16 * FULL.length];
        double[] indices = golden.get("candidate_indices");
        for (int c = 0; c < indices.length; c++) {
            int anchor = (int) indices[c];
            scores[anchor] = (float) golden.get("candidate_logits")[c];
            for (int k = 0; k < 16; k++) {
                regressors[16 * anchor + k] = (float) golden.get("candidate_regressors")[16 * c + k];
            }
        }
        List<BlazeFace.Detection> faces = BlazeFace.decode(
                regressors, scores, FULL, (int) settings[0], (float) settings[4], (float) settings[5]);
        double[] expectedScores = golden.get("detection_scores");
        assertEquals(expectedScores.length, faces.size());
        for (int f = 0; f < faces.size(); f++) {
            BlazeFace.Detection face =
                    BlazeFace.toImage(faces.get(f), (int) settings[1], (int) settings[2], (int) settings[3]);
            assertEquals(expectedScores[f], face.score, 1e-6);
            for (int k = 0; k < 4; k++) {
                assertEquals(golden.get("detection_boxes")[4 * f + k], face.box[k], 1e-3); // pixels
            }
            for (int k = 0; k < 12; k++) {
                assertEquals(golden.get("detection_keypoints")[12 * f + k], face.keypoints[k], 1e-3);
            }
        }
    }

    @Test
    public void theBestFaceHoldsTheKeypointsTheAlignmentUsed() {
        double[] box = golden.get("detection_boxes");
        double[] used = golden.get("keypoints"); // eyes, nose, mouth of the face tfmfn aligned
        for (int k = 0; k < used.length; k += 2) {
            assertTrue(box[0] < used[k] && used[k] < box[2] && box[1] < used[k + 1] && used[k + 1] < box[3]);
        }
    }

    @Test
    public void aDegenerateBoxStillEndsTheSuppression() {
        BlazeFace.Detection point = new BlazeFace.Detection(new float[] {5, 5, 5, 5}, new float[12], 0.9f);
        assertEquals(1, BlazeFace.weightedNms(Arrays.asList(point), 0.3f).size());
    }

    @Test
    public void overlappingDetectionsMergeByScoreWeight() {
        BlazeFace.Detection strong = new BlazeFace.Detection(new float[] {0, 0, 10, 10}, new float[12], 0.75f);
        BlazeFace.Detection weak = new BlazeFace.Detection(new float[] {1, 1, 11, 11}, new float[12], 0.25f);
        BlazeFace.Detection apart = new BlazeFace.Detection(new float[] {50, 50, 60, 60}, new float[12], 0.5f);
        List<BlazeFace.Detection> merged = BlazeFace.weightedNms(Arrays.asList(weak, apart, strong), 0.3f);
        assertEquals(2, merged.size());
        assertEquals(0.75f, merged.get(0).score, 0f);
        assertArrayEquals(new float[] {0.25f, 0.25f, 10.25f, 10.25f}, merged.get(0).box, 1e-6f);
        assertArrayEquals(apart.box, merged.get(1).box, 0f);
    }

    @Test
    public void iouOfKnownBoxes() {
        assertEquals(1.0, BlazeFace.iou(new float[] {0, 0, 2, 2}, new float[] {0, 0, 2, 2}), 1e-12);
        assertEquals(1.0 / 7, BlazeFace.iou(new float[] {0, 0, 2, 2}, new float[] {1, 1, 3, 3}), 1e-12);
        assertEquals(0.0, BlazeFace.iou(new float[] {0, 0, 1, 1}, new float[] {2, 2, 3, 3}), 1e-12);
    }

    @Test
    public void scoresBelowTheThresholdAreDropped() {
        float[] scores = new float[FULL.length];
        Arrays.fill(scores, -3f); // sigmoid 0.047
        assertTrue(BlazeFace.decode(new float[16 * FULL.length], scores, FULL, 192, 0.05f, 0.3f).isEmpty());
        scores[7] = 0f; // sigmoid 0.5
        assertEquals(1, BlazeFace.decode(new float[16 * FULL.length], scores, FULL, 192, 0.05f, 0.3f).size());
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesOutputsOfAnotherModel() {
        BlazeFace.decode(new float[16 * SHORT.length], new float[SHORT.length], FULL, 192, 0.5f, 0.3f);
    }
}
