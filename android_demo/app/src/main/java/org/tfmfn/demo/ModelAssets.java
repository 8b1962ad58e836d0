package org.tfmfn.demo;

import android.content.res.AssetManager;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import org.tfmfn.facecore.ModelMetadata;

/**
 * The three models in the app's assets, as {@code python -m tfmfn.android --model X.tflite} installs
 * them: the embedder with its tfmfn metadata, BlazeFace (full range) and MTCNN's ONet (landmarks). A
 * missing or unreadable file becomes an {@link IOException} whose message tells the user what to do.
 */
final class ModelAssets {
    static final String EMBEDDER = "embedder.tflite";
    static final String DETECTOR = "face_detection_full_range.tflite";
    static final String LANDMARKER = "mtcnn_onet.tflite";
    private static final String INSTALL_HINT =
            "run python -m tfmfn.android --model YOUR_MODEL.tflite on your computer, then rebuild the app";

    final byte[] embedder;
    final byte[] detector;
    final byte[] landmarker;
    final ModelMetadata metadata;
    /** The model's name and the start of its SHA-256: embeddings of other weights are not comparable. */
    final String identity;

    private ModelAssets(byte[] embedder, byte[] detector, byte[] landmarker, ModelMetadata metadata, String identity) {
        this.embedder = embedder;
        this.detector = detector;
        this.landmarker = landmarker;
        this.metadata = metadata;
        this.identity = identity;
    }

    static ModelAssets load(AssetManager assets) throws IOException {
        String[] present = assets.list("");
        for (String name : new String[] {EMBEDDER, DETECTOR, LANDMARKER}) {
            if (present == null || !Arrays.asList(present).contains(name)) {
                throw new IOException("No " + name + " in the app's assets: " + INSTALL_HINT + ".");
            }
        }
        byte[] embedder = read(assets, EMBEDDER);
        ModelMetadata metadata;
        try {
            metadata = ModelMetadata.read(embedder);
        } catch (IllegalArgumentException unreadable) {
            throw new IOException(EMBEDDER + ": " + unreadable.getMessage() + "; " + INSTALL_HINT + ".");
        }
        return new ModelAssets(embedder, read(assets, DETECTOR), read(assets, LANDMARKER), metadata,
                metadata.model + "@" + sha256Prefix(embedder));
    }

    private static byte[] read(AssetManager assets, String name) throws IOException {
        try (InputStream stream = assets.open(name)) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            byte[] chunk = new byte[1 << 16];
            for (int count; (count = stream.read(chunk)) > 0; ) {
                bytes.write(chunk, 0, count);
            }
            return bytes.toByteArray();
        }
    }

    private static String sha256Prefix(byte[] bytes) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
            StringBuilder hex = new StringBuilder();
            for (int i = 0; i < 6; i++) {
                hex.append(String.format("%02x", digest[i]));
            }
            return hex.toString();
        } catch (NoSuchAlgorithmException impossible) {
            throw new IllegalStateException(impossible);
        }
    }
}
