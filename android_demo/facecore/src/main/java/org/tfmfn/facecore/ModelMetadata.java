package org.tfmfn.facecore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * The metadata that {@code python -m tfmfn.convert} writes into every .tflite: the flatbuffer's
 * Model.metadata entry named "tfmfn", whose buffer holds JSON (input size, normalisation, embedding
 * size, alignment template, thresholds). Read here from the file's bytes, with no flatbuffers or
 * JSON library. Each app mode has its own threshold: 1:1 verification the one at FAR 1e-3, 1:N
 * identification the stricter one at FAR 1e-4 ({@link #pointFor}).
 *
 * <pre>{@code
 * ModelMetadata metadata = ModelMetadata.read(tfliteBytes);
 * boolean same = Embeddings.verify(a, b, metadata.pointFor(OperatingPoint.VERIFY).threshold);
 * }</pre>
 */
public final class ModelMetadata {
    public static final String NAME = "tfmfn";
    private static final int MODEL_BUFFERS = 4, MODEL_METADATA = 6;

    public final String model;
    public final int inputHeight, inputWidth;
    public final double pixelMean, pixelScale;
    public final int embeddingSize;
    public final double[][] alignmentTemplate;
    /** The 1:1 squared distance of normalised embeddings below which two faces are one person; NaN when unknown. */
    public final double threshold;
    private final Map<?, ?> thresholds;
    public final String quantization;
    public final Map<String, Object> json;

    private ModelMetadata(Map<String, Object> json) {
        this.json = json;
        model = (String) json.get("model");
        List<?> size = (List<?>) required(json, "input_size");
        inputHeight = ((Double) size.get(0)).intValue();
        inputWidth = ((Double) size.get(1)).intValue();
        Map<?, ?> normalization = (Map<?, ?>) required(json, "normalization");
        pixelMean = (Double) normalization.get("mean");
        pixelScale = (Double) normalization.get("scale");
        embeddingSize = ((Double) required(json, "embedding_size")).intValue();
        List<?> template = (List<?>) required(json, "alignment_template");
        alignmentTemplate = new double[template.size()][];
        for (int i = 0; i < template.size(); i++) {
            List<?> point = (List<?>) template.get(i);
            alignmentTemplate[i] = new double[] {(Double) point.get(0), (Double) point.get(1)};
        }
        Object recommended = json.get("recommended_threshold");
        threshold = recommended == null ? Double.NaN : (Double) recommended;
        thresholds = (Map<?, ?>) json.get("thresholds");
        quantization = (String) json.get("quantization");
        if (thresholds != null) {
            pointFor(OperatingPoint.VERIFY);
            pointFor(OperatingPoint.IDENTIFY);
        }
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

    private static Object required(Map<String, Object> json, String key) {
        Object value = json.get(key);
        if (value == null) {
            throw new IllegalArgumentException("tfmfn metadata has no " + key + "; convert the model again");
        }
        return value;
    }

    /** The tfmfn metadata of a .tflite file's bytes; IllegalArgumentException when it has none. */
    @SuppressWarnings("unchecked")
    public static ModelMetadata read(byte[] tflite) {
        ByteBuffer buffer = ByteBuffer.wrap(tflite).order(ByteOrder.LITTLE_ENDIAN);
        try {
            int model = buffer.getInt(0);
            int metadata = vector(buffer, model, MODEL_METADATA);
            int buffers = vector(buffer, model, MODEL_BUFFERS);
            if (metadata < 0 || buffers < 0) {
                throw new IllegalArgumentException(
                        "the model carries no tfmfn metadata; export it with python -m tfmfn.convert");
            }
            for (int i = 0; i < buffer.getInt(metadata); i++) {
                int entry = element(buffer, metadata, i);
                if (NAME.equals(string(buffer, entry, 0))) {
                    int index = scalarInt(buffer, entry, 1);
                    byte[] data = bufferData(buffer, element(buffer, buffers, index));
                    return parse(new String(data, StandardCharsets.UTF_8));
                }
            }
        } catch (IndexOutOfBoundsException | ClassCastException corrupt) {
            throw new IllegalArgumentException("not a readable .tflite flatbuffer (" + corrupt + ")");
        }
        throw new IllegalArgumentException("the model carries no tfmfn metadata; export it with python -m tfmfn.convert");
    }

    /** The metadata from its JSON text; IllegalArgumentException when a required entry is missing. */
    @SuppressWarnings("unchecked")
    static ModelMetadata parse(String json) {
        return new ModelMetadata((Map<String, Object>) Json.parse(json));
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
