package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
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
        assertEquals(1.234, metadata.threshold, 0);
        assertEquals(FaceInput.PIXEL_MEAN, metadata.pixelMean, 0);
        assertEquals(FaceInput.PIXEL_SCALE, metadata.pixelScale, 0);
        assertEquals("float32", metadata.quantization);
        assertEquals(5, metadata.alignmentTemplate.length);
        assertArrayEquals(new double[] {38.29460144042969, 51.6963005065918}, metadata.alignmentTemplate[0], 0);
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
