package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class ModelMetadataTest {
    private static byte[] golden(String name) throws IOException {
        return Files.readAllBytes(new File(Goldens.FOLDER, name).toPath());
    }

    @Test
    public void readsWhatTfmfnConvertWrote() throws IOException {
        ModelMetadata metadata = ModelMetadata.read(golden("metadata.tflite"));
        assertEquals("tiny", metadata.model);
        assertEquals(16, metadata.inputHeight);
        assertEquals(16, metadata.inputWidth);
        assertEquals(8, metadata.embeddingSize);
        assertEquals(1.003, metadata.threshold, 0);
        assertEquals(FaceInput.PIXEL_MEAN, metadata.pixelMean, 0);
        assertEquals(FaceInput.PIXEL_SCALE, metadata.pixelScale, 0);
        assertEquals("float32", metadata.quantization);
        assertEquals(5, metadata.alignmentTemplate.length);
        assertArrayEquals(new double[] {38.29460144042969, 51.6963005065918}, metadata.alignmentTemplate[0], 0);
    }

    @Test
    public void eachModeGetsItsOwnThresholdWithTheImpostorsBehindIt() throws IOException {
        ModelMetadata metadata = ModelMetadata.read(golden("metadata.tflite"));
        OperatingPoint verify = metadata.pointFor(OperatingPoint.VERIFY);
        OperatingPoint identify = metadata.pointFor(OperatingPoint.IDENTIFY);
        assertEquals("far_1e-3", verify.name);
        assertEquals(1.003, verify.threshold, 0);
        assertEquals(1e-3, verify.targetFar, 0);
        assertEquals(3000, verify.impostorPairs);
        assertTrue(verify.supported);
        assertEquals("far_1e-4", identify.name);
        assertEquals(1.0, identify.threshold, 0);
        assertFalse(identify.supported);
        assertEquals("1:1, FAR 1e-3: d² < 1.003 (3000 impostor pairs)", verify.describe());
        assertEquals("1:N, FAR 1e-4: d² < 1.000 (3000 impostor pairs: too few to measure it)", identify.describe());
    }

    @Test
    public void aModelConvertedBeforeThresholdsUsesItsRecommendedOneForBothModes() {
        ModelMetadata metadata = ModelMetadata.parse(WITHOUT_THRESHOLDS + ", \"recommended_threshold\": 0.9}");
        assertEquals(0.9, metadata.pointFor(OperatingPoint.IDENTIFY).threshold, 0);
        assertEquals("recommended", metadata.pointFor(OperatingPoint.VERIFY).name);
        assertNull(ModelMetadata.parse(WITHOUT_THRESHOLDS + "}").pointFor(OperatingPoint.VERIFY));
    }

    @Test
    public void thresholdsWithoutAPointForAModeAreRefusedAtLoad() {
        try {
            ModelMetadata.parse(WITHOUT_THRESHOLDS + ", \"thresholds\": {\"use\": {\"1:1\": \"far_1e-3\"}, "
                    + "\"impostor_pairs\": 10, \"far_1e-3\": {\"threshold\": 1.1}}}");
            fail();
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("no threshold for 1:N"));
        }
    }

    private static final String WITHOUT_THRESHOLDS = "{\"model\": \"m\", \"input_size\": [112, 112], "
            + "\"normalization\": {\"mean\": 127.5, \"scale\": 128.0}, \"embedding_size\": 128, "
            + "\"alignment_template\": [[38.3, 51.7]]";

    @Test
    public void aModelWithOnlyTheStandardEntryIsReadWithoutThresholds() throws IOException {
        ModelMetadata metadata = ModelMetadata.read(golden("standard.tflite"));
        assertTrue(metadata.standardOnly);
        assertEquals("tiny", metadata.model);
        assertEquals(16, metadata.inputHeight);
        assertEquals(16, metadata.inputWidth);
        assertEquals(127.5, metadata.pixelMean, 0);
        assertEquals(128.0, metadata.pixelScale, 0);
        assertNull(metadata.pointFor(OperatingPoint.VERIFY));
        assertEquals(0, metadata.embeddingSize);
        assertEquals(8, metadata.withEmbeddingSize(8).embeddingSize);
        assertArrayEquals(new double[] {38.2946 * 16 / 112, 51.6963 * 16 / 112}, metadata.alignmentTemplate[0], 1e-12);
    }

    @Test
    public void aStandardEntryWithoutItsMarkIsMalformed() {
        try {
            ModelMetadata.fromStandard(new byte[] {8, 0, 0, 0, 'X', '0', '0', '1', 0, 0, 0, 0});
            fail();
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().startsWith("the model's metadata is malformed: "
                    + "TFLITE_METADATA should be a metadata_schema.fbs buffer"));
        }
    }

    @Test
    public void malformedMetadataNamesTheFieldInOneLine() {
        String[][] cases = {
            {"\"normalization\": {\"mean\": \"127.5\", \"scale\": 128.0}", "normalization.mean should be a number"},
            {"\"normalization\": {\"mean\": 127.5}", "normalization.scale should be present"},
            {"\"normalization\": [127.5, 128]", "normalization should be an object"},
        };
        for (String[] malformed : cases) {
            String json = "{\"model\": \"m\", \"input_size\": [112, 112], " + malformed[0]
                    + ", \"embedding_size\": 128, \"alignment_template\": [[38.3, 51.7]]}";
            try {
                ModelMetadata.parse(json);
                fail(json);
            } catch (IllegalArgumentException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().contains(malformed[1]));
                assertFalse(expected.getMessage().contains("\n"));
            }
        }
        try {
            ModelMetadata.parse("{\"model\": \"m\"}");
            fail();
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("input_size should be present"));
        }
    }

    @Test
    public void aModelWithoutMetadataIsRefusedWithTheFix() throws IOException {
        try {
            ModelMetadata.read(golden("plain.tflite"));
            fail();
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("python -m tfmfn.convert"));
        }
    }

    @Test
    public void aTruncatedFileIsRefused() throws IOException {
        byte[] bytes = golden("metadata.tflite");
        try {
            ModelMetadata.read(Arrays.copyOf(bytes, 64));
            fail();
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("tflite") || expected.getMessage().contains("metadata"));
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    public void jsonReaderHandlesNestingEscapesAndNumbers() {
        Map<String, Object> value = (Map<String, Object>) Json.parse(
                "{\"a\": [1, -2.5e-1, {\"b\": null}], \"s\": \"x\\\"y\\u00e9\", \"t\": true}");
        List<Object> a = (List<Object>) value.get("a");
        assertEquals(1.0, (Double) a.get(0), 0);
        assertEquals(-0.25, (Double) a.get(1), 0);
        assertTrue(((Map<String, Object>) a.get(2)).containsKey("b"));
        assertEquals("x\"y\u00e9", value.get("s"));
        assertEquals(Boolean.TRUE, value.get("t"));
    }

    @Test(expected = IllegalArgumentException.class)
    public void jsonReaderRefusesBrokenText() {
        Json.parse("{\"a\": [1, 2}");
    }
}
