package org.tfmfn.facecore;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Enrolled people, several normalised embedding samples each, for one model. A person's score
 * against a probe is the squared distance to the normalised mean of their samples: one comparison
 * per person however many samples they have, so that k samples do not give an impostor k chances
 * below the threshold (the closest of k samples would, about k times the measured false accept
 * rate). The file format starts with a magic word, a format version, the model's identity and
 * embedding size: a gallery written for another model, or by a newer format, is refused with a
 * message instead of being misread. The same file is the export a user copies to another device
 * and imports there ({@link #importFrom}).
 *
 * <pre>{@code
 * Gallery gallery = new Gallery("mobilefacenet@1a2b3c", 128);
 * gallery.enroll("ada", embedding);
 * Gallery.Match match = gallery.identify(probe, threshold);   // null: nobody close enough
 * }</pre>
 */
public final class Gallery {
    public static final int FORMAT_VERSION = 1;
    private static final int MAGIC = 0x54464d47; // "TFMG"

    private final String model;
    private final int embeddingSize;
    private final Map<String, List<float[]>> people = new LinkedHashMap<>();

    public Gallery(String model, int embeddingSize) {
        if (embeddingSize < 1) {
            throw new IllegalArgumentException("embedding size must be positive, got " + embeddingSize);
        }
        this.model = model;
        this.embeddingSize = embeddingSize;
    }

    /** The best-scoring enrolled person for a probe. */
    public static final class Match {
        public final String name;
        public final double squaredDistance;

        Match(String name, double squaredDistance) {
            this.name = name;
            this.squaredDistance = squaredDistance;
        }
    }

    public String model() {
        return model;
    }

    public int embeddingSize() {
        return embeddingSize;
    }

    /** Adds one sample of {@code name} (stored normalised). */
    public void enroll(String name, float[] embedding) {
        if (name == null || name.trim().isEmpty()) {
            throw new IllegalArgumentException("a person needs a name");
        }
        if (embedding.length != embeddingSize) {
            throw new IllegalArgumentException(
                    "this gallery holds " + embeddingSize + "-d embeddings, got " + embedding.length);
        }
        people.computeIfAbsent(name, key -> new ArrayList<>()).add(Embeddings.normalize(embedding));
    }

    /** Forgets a person; returns whether they were enrolled. */
    public boolean delete(String name) {
        return people.remove(name) != null;
    }

    public List<String> names() {
        return Collections.unmodifiableList(new ArrayList<>(people.keySet()));
    }

    public int samples(String name) {
        List<float[]> samples = people.get(name);
        return samples == null ? 0 : samples.size();
    }

    /** The normalised mean of {@code name}'s samples; IllegalArgumentException if not enrolled. */
    public float[] centroid(String name) {
        List<float[]> samples = people.get(name);
        if (samples == null) {
            throw new IllegalArgumentException(name + " is not enrolled");
        }
        return Embeddings.mean(samples);
    }

    /** {@code name}'s score: the squared distance from a probe to their centroid; IllegalArgumentException if not enrolled. */
    public double distance(String name, float[] probe) {
        return Embeddings.squaredDistance(probe, centroid(name));
    }

    /** 1:1 verification against an enrolled person: their score is below {@code threshold}. */
    public boolean verify(String name, float[] probe, double threshold) {
        return distance(name, probe) < threshold;
    }

    /** The best-scoring person, whatever their score; null for an empty gallery. */
    public Match closest(float[] probe) {
        Match best = null;
        for (String name : people.keySet()) {
            double distance = distance(name, probe);
            if (best == null || distance < best.squaredDistance) {
                best = new Match(name, distance);
            }
        }
        return best;
    }

    /** The best-scoring person if their score is below {@code threshold}, else null. */
    public Match identify(float[] probe, double threshold) {
        Match best = closest(probe);
        return best != null && best.squaredDistance < threshold ? best : null;
    }

    /** What an import did: the people added, and those skipped because a person of that name is enrolled here. */
    public static final class Imported {
        public final List<String> added, skipped;

        Imported(List<String> added, List<String> skipped) {
            this.added = Collections.unmodifiableList(added);
            this.skipped = Collections.unmodifiableList(skipped);
        }
    }

    /**
     * Adds the people of an exported gallery ({@link #write}) to this one. The export must come from the
     * same model (identity and embedding size) in a format this app reads; a name enrolled here is kept
     * as it is and reported as skipped, so an import never changes who someone already is.
     */
    public Imported importFrom(InputStream export) throws IOException {
        Gallery other = read(export, model, embeddingSize);
        List<String> added = new ArrayList<>(), skipped = new ArrayList<>();
        for (Map.Entry<String, List<float[]>> person : other.people.entrySet()) {
            if (people.containsKey(person.getKey())) {
                skipped.add(person.getKey());
            } else {
                people.put(person.getKey(), person.getValue());
                added.add(person.getKey());
            }
        }
        return new Imported(added, skipped);
    }

    /** Writes the gallery (see the class comment for what the header holds). */
    public void write(OutputStream stream) throws IOException {
        DataOutputStream out = new DataOutputStream(stream);
        out.writeInt(MAGIC);
        out.writeInt(FORMAT_VERSION);
        out.writeUTF(model);
        out.writeInt(embeddingSize);
        out.writeInt(people.size());
        for (Map.Entry<String, List<float[]>> person : people.entrySet()) {
            out.writeUTF(person.getKey());
            out.writeInt(person.getValue().size());
            for (float[] sample : person.getValue()) {
                for (float value : sample) {
                    out.writeFloat(value);
                }
            }
        }
        out.flush();
    }

    /** Reads a gallery written by {@link #write}; {@code model} and {@code embeddingSize} must match. */
    public static Gallery read(InputStream stream, String model, int embeddingSize) throws IOException {
        DataInputStream in = new DataInputStream(stream);
        try {
            if (in.readInt() != MAGIC) {
                throw new IOException("not a tfmfn gallery file (export one with the app's Export button)");
            }
            int version = in.readInt();
            if (version > FORMAT_VERSION) {
                throw new IOException("gallery format " + version + " is newer than this app reads ("
                        + FORMAT_VERSION + "); update the app");
            }
            String savedModel = in.readUTF();
            int savedSize = in.readInt();
            if (!savedModel.equals(model) || savedSize != embeddingSize) {
                throw new IOException("the gallery was enrolled with " + savedModel + " (" + savedSize
                        + "-d), the app runs " + model + " (" + embeddingSize + "-d); enroll again");
            }
            Gallery gallery = new Gallery(model, embeddingSize);
            int count = in.readInt();
            for (int p = 0; p < count; p++) {
                String name = in.readUTF();
                int samples = in.readInt();
                List<float[]> list = new ArrayList<>();
                for (int s = 0; s < samples; s++) {
                    float[] sample = new float[embeddingSize];
                    for (int i = 0; i < embeddingSize; i++) {
                        sample[i] = in.readFloat();
                    }
                    list.add(sample);
                }
                gallery.people.put(name, list);
            }
            return gallery;
        } catch (EOFException truncated) {
            throw new IOException("the gallery file is truncated; its people cannot be read");
        }
    }

    /** The gallery as bytes (for a test, or a file written atomically by the caller). */
    public byte[] toBytes() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        write(bytes);
        return bytes.toByteArray();
    }

    public static Gallery fromBytes(byte[] bytes, String model, int embeddingSize) throws IOException {
        return read(new ByteArrayInputStream(bytes), model, embeddingSize);
    }

    @Override
    public String toString() {
        return "Gallery(" + model + ", " + embeddingSize + "-d, " + Arrays.toString(people.keySet().toArray()) + ")";
    }
}
