package org.tfmfn.facecore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The metadata that {@code python -m tfmfn.convert} writes into every .tflite: the flatbuffer's
 * Model.metadata entry named "tfmfn", whose buffer holds JSON (input size, normalisation, embedding
 * size, alignment template, thresholds). Read here from the file's bytes, with no flatbuffers or
 * JSON library. Each app mode has its own threshold: 1:1 verification the one at FAR 1e-3, 1:N
 * identification the stricter one at FAR 1e-4 ({@link #pointFor}).
 *
 * <p>A model with only TFLite's standard entry ({@code TFLITE_METADATA}, metadata_schema.fbs, as
 * MediaPipe reads it) is read too: its name, input size and NormalizationOptions; the embedding size
 * then comes from the output tensor ({@link #withEmbeddingSize}), the alignment template is
 * insightface's, and it has no measured thresholds ({@link #pointFor} gives null; the app says so).
 * An entry that is there but malformed is refused with the field that is wrong.
 *
 * <pre>{@code
 * ModelMetadata metadata = ModelMetadata.read(tfliteBytes);
 * boolean same = Embeddings.verify(a, b, metadata.pointFor(OperatingPoint.VERIFY).threshold);
 * }</pre>
 */
public final class ModelMetadata {
    public static final String NAME = "tfmfn";
    public static final String STANDARD_NAME = "TFLITE_METADATA";
    /** insightface's five-point template for a 112x112 crop (x, y): eyes, nose tip, mouth corners. */
    public static final double[][] ARCFACE_TEMPLATE = {
        {38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}
    };
    private static final int MODEL_BUFFERS = 4, MODEL_METADATA = 6;
    private static final int NORMALIZATION_OPTIONS = 1, IMAGE_PROPERTIES = 2;

    public final String model;
    public final int inputHeight, inputWidth;
    public final double pixelMean, pixelScale;
    /** The embedding size; 0 for a model with only the standard entry until {@link #withEmbeddingSize}. */
    public final int embeddingSize;
    public final double[][] alignmentTemplate;
    /** The 1:1 squared distance of normalised embeddings below which two faces are one person; NaN when unknown. */
    public final double threshold;
    private final Map<?, ?> thresholds;
    public final String quantization;
    /** Whether the model carries only TFLite's standard entry (no tfmfn entry, so no thresholds). */
    public final boolean standardOnly;
    public final Map<String, Object> json;

    private ModelMetadata(Map<String, Object> json, boolean standardOnly) {
        this.json = json;
        this.standardOnly = standardOnly;
        model = text(json, "model", "model");
        List<?> size = list(json, "input_size");
        if (size.size() != 2) throw malformed("input_size", "two numbers");
        inputHeight = number(size.get(0), "input_size").intValue();
        inputWidth = number(size.get(1), "input_size").intValue();
        Map<?, ?> normalization = map(json.get("normalization"), "normalization");
        pixelMean = number(normalization.get("mean"), "normalization.mean");
        pixelScale = number(normalization.get("scale"), "normalization.scale");
        if (!(pixelScale != 0) || Double.isNaN(pixelMean)) throw malformed("normalization.scale", "a number other than 0");
        embeddingSize = number(json.get("embedding_size"), "embedding_size").intValue();
        List<?> template = list(json, "alignment_template");
        alignmentTemplate = new double[template.size()][];
        for (int i = 0; i < template.size(); i++) {
            Object point = template.get(i);
            if (!(point instanceof List) || ((List<?>) point).size() != 2) throw malformed("alignment_template", "(x, y) points");
            alignmentTemplate[i] = new double[] {number(((List<?>) point).get(0), "alignment_template"),
                number(((List<?>) point).get(1), "alignment_template")};
        }
        Object recommended = json.get("recommended_threshold");
        threshold = recommended == null ? Double.NaN : number(recommended, "recommended_threshold");
        Object given = json.get("thresholds");
        thresholds = given == null ? null : map(given, "thresholds");
        quantization = json.get("quantization") == null ? (standardOnly ? "standard metadata" : "unknown")
                : text(json, "quantization", "quantization");
        if (thresholds != null) {
            try {
                pointFor(OperatingPoint.VERIFY);
                pointFor(OperatingPoint.IDENTIFY);
            } catch (ClassCastException | NullPointerException wrongType) {
                throw malformed("thresholds", "points with a threshold, target_far and impostor_pairs");
            }
        }
    }

    /** A copy whose embedding size is {@code size} (the output tensor's, for a model with only the standard entry). */
    public ModelMetadata withEmbeddingSize(int size) {
        Map<String, Object> copy = new LinkedHashMap<>(json);
        copy.put("embedding_size", (double) size);
        return new ModelMetadata(copy, standardOnly);
    }

    private static IllegalArgumentException malformed(String key, String expected) {
        return new IllegalArgumentException("the model's metadata is malformed: " + key + " should be " + expected
                + "; convert the model again with python -m tfmfn.convert");
    }

    private static Double number(Object value, String key) {
        if (!(value instanceof Double)) throw malformed(key, value == null ? "present" : "a number");
        return (Double) value;
    }

    private static String text(Map<String, Object> json, String key, String where) {
        Object value = json.get(key);
        if (!(value instanceof String)) throw malformed(where, value == null ? "present" : "text");
        return (String) value;
    }

    private static Map<?, ?> map(Object value, String key) {
        if (!(value instanceof Map)) throw malformed(key, value == null ? "present" : "an object");
        return (Map<?, ?>) value;
    }

    private static List<?> list(Map<String, Object> json, String key) {
        Object value = json.get(key);
        if (!(value instanceof List)) throw malformed(key, value == null ? "present" : "a list");
        return (List<?>) value;
    }

    /**
     * The threshold for an app mode ({@link OperatingPoint#VERIFY} or {@link OperatingPoint#IDENTIFY}) as
     * the metadata's {@code thresholds.use} names it; for a model converted before thresholds were
     * measured, the recommended threshold for both; null when the model has neither.
     */
    public OperatingPoint pointFor(String mode) {
        if (thresholds != null) {
            return OperatingPoint.fromThresholds(thresholds, mode);
        }
        return Double.isNaN(threshold) ? null : new OperatingPoint(mode, "recommended", threshold, Double.NaN, 0, true);
    }

    /**
     * The metadata of a .tflite file's bytes: its tfmfn entry, or else its standard one; IllegalArgumentException
     * when it has neither or what it has is malformed.
     */
    public static ModelMetadata read(byte[] tflite) {
        ByteBuffer buffer = ByteBuffer.wrap(tflite).order(ByteOrder.LITTLE_ENDIAN);
        byte[] standard = null;
        try {
            int model = buffer.getInt(0);
            int metadata = vector(buffer, model, MODEL_METADATA);
            int buffers = vector(buffer, model, MODEL_BUFFERS);
            if (metadata >= 0 && buffers >= 0) {
                for (int i = 0; i < buffer.getInt(metadata); i++) {
                    int entry = element(buffer, metadata, i);
                    String name = string(buffer, entry, 0);
                    int index = scalarInt(buffer, entry, 1);
                    if (NAME.equals(name)) {
                        byte[] data = bufferData(buffer, element(buffer, buffers, index));
                        return parse(new String(data, StandardCharsets.UTF_8));
                    }
                    if (STANDARD_NAME.equals(name)) {
                        standard = bufferData(buffer, element(buffer, buffers, index));
                    }
                }
            }
        } catch (IndexOutOfBoundsException | ClassCastException corrupt) {
            throw new IllegalArgumentException("not a readable .tflite flatbuffer (" + corrupt + ")");
        }
        if (standard != null) {
            return fromStandard(standard);
        }
        throw new IllegalArgumentException("the model carries neither tfmfn's nor TFLite's standard metadata; "
                + "export it with python -m tfmfn.convert");
    }

    /** The metadata from its JSON text; IllegalArgumentException naming the entry that is missing or malformed. */
    @SuppressWarnings("unchecked")
    static ModelMetadata parse(String json) {
        Object parsed = Json.parse(json);
        if (!(parsed instanceof Map)) throw malformed("the tfmfn entry", "a JSON object");
        return new ModelMetadata((Map<String, Object>) parsed, false);
    }

    /**
     * The metadata of a standard entry (metadata_schema.fbs's ModelMetadata, file identifier M001): the
     * first input's image size and NormalizationOptions (one mean and one std for all channels).
     */
    static ModelMetadata fromStandard(byte[] data) {
        ByteBuffer buffer = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (data.length < 8 || !"M001".equals(new String(data, 4, 4, StandardCharsets.US_ASCII))) {
                throw malformed(STANDARD_NAME, "a metadata_schema.fbs buffer (file identifier M001)");
            }
            int model = buffer.getInt(0);
            int subgraph = firstElement(buffer, model, 3, "subgraph_metadata");
            int input = firstElement(buffer, subgraph, 2, "input_tensor_metadata");
            int content = table(buffer, input, 3, "the input's content");
            int image = table(buffer, content, 1, "the input's content properties");
            if (scalarByte(buffer, content, 0) != IMAGE_PROPERTIES) throw malformed("the input's content", "an image");
            int size = table(buffer, image, 1, "the input's default_size");
            int unit = firstElement(buffer, input, 4, "the input's process_units");
            if (scalarByte(buffer, unit, 0) != NORMALIZATION_OPTIONS) {
                throw malformed("the input's process unit", "NormalizationOptions");
            }
            int options = table(buffer, unit, 1, "NormalizationOptions");
            float[] mean = floats(buffer, options, 0), std = floats(buffer, options, 1);
            if (mean.length != 1 || std.length != 1) {
                throw malformed("NormalizationOptions", "one mean and one std (the same for every channel)");
            }
            int width = scalarInt(buffer, size, 0), height = scalarInt(buffer, size, 1);
            if (width <= 0 || height <= 0) throw malformed("the input's default_size", "positive");
            String name = string(buffer, model, 0);
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("model", name == null ? "unnamed" : name);
            json.put("input_size", Arrays.asList((double) height, (double) width));
            Map<String, Object> normalization = new LinkedHashMap<>();
            normalization.put("mean", (double) mean[0]);
            normalization.put("scale", (double) std[0]);
            json.put("normalization", normalization);
            json.put("embedding_size", 0.0);
            List<Object> template = new ArrayList<>();
            for (double[] point : ARCFACE_TEMPLATE) {
                template.add(Arrays.asList(point[0] * width / 112, point[1] * height / 112));
            }
            json.put("alignment_template", template);
            return new ModelMetadata(json, true);
        } catch (IndexOutOfBoundsException corrupt) {
            throw malformed(STANDARD_NAME, "a complete metadata_schema.fbs buffer (" + corrupt.getMessage() + ")");
        }
    }

    private static int firstElement(ByteBuffer buffer, int table, int index, String what) {
        int vector = vector(buffer, table, index);
        if (vector < 0 || buffer.getInt(vector) < 1) throw malformed(what, "present");
        return element(buffer, vector, 0);
    }

    private static int table(ByteBuffer buffer, int table, int index, String what) {
        int position = field(buffer, table, index);
        if (position < 0) throw malformed(what, "present");
        return position + buffer.getInt(position);
    }

    private static int scalarByte(ByteBuffer buffer, int table, int index) {
        int position = field(buffer, table, index);
        return position < 0 ? 0 : buffer.get(position) & 0xff;
    }

    private static float[] floats(ByteBuffer buffer, int table, int index) {
        int vector = vector(buffer, table, index);
        if (vector < 0) return new float[0];
        float[] values = new float[buffer.getInt(vector)];
        for (int i = 0; i < values.length; i++) values[i] = buffer.getFloat(vector + 4 + 4 * i);
        return values;
    }

    /** Position of a table field's value, or -1 when the field is absent. */
    private static int field(ByteBuffer buffer, int table, int index) {
        int vtable = table - buffer.getInt(table);
        int vtableSize = buffer.getShort(vtable) & 0xffff;
        int slot = 4 + 2 * index;
        if (slot >= vtableSize) return -1;
        int offset = buffer.getShort(vtable + slot) & 0xffff;
        return offset == 0 ? -1 : table + offset;
    }

    private static int vector(ByteBuffer buffer, int table, int index) {
        int position = field(buffer, table, index);
        return position < 0 ? -1 : position + buffer.getInt(position);
    }

    private static int element(ByteBuffer buffer, int vector, int i) {
        if (i < 0 || i >= buffer.getInt(vector)) throw new IndexOutOfBoundsException("element " + i);
        int position = vector + 4 + 4 * i;
        return position + buffer.getInt(position);
    }

    private static String string(ByteBuffer buffer, int table, int index) {
        int position = vector(buffer, table, index);
        if (position < 0) return null;
        byte[] bytes = new byte[buffer.getInt(position)];
        for (int i = 0; i < bytes.length; i++) bytes[i] = buffer.get(position + 4 + i);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static int scalarInt(ByteBuffer buffer, int table, int index) {
        int position = field(buffer, table, index);
        return position < 0 ? 0 : buffer.getInt(position);
    }

    private static byte[] bufferData(ByteBuffer buffer, int table) {
        int data = vector(buffer, table, 0);
        if (data >= 0) {
            byte[] bytes = new byte[buffer.getInt(data)];
            for (int i = 0; i < bytes.length; i++) bytes[i] = buffer.get(data + 4 + i);
            return bytes;
        }
        int offsetField = field(buffer, table, 1), sizeField = field(buffer, table, 2);
        if (offsetField < 0 || sizeField < 0) return new byte[0];
        int offset = (int) buffer.getLong(offsetField), size = (int) buffer.getLong(sizeField);
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) bytes[i] = buffer.get(offset + i);
        return bytes;
    }
}
