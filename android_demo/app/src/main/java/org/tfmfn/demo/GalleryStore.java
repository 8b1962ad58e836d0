package org.tfmfn.demo;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.tfmfn.facecore.Gallery;

/**
 * The enrollment gallery of one model in the app's private storage. Each model (name and weights)
 * has its own file, so installing another model starts an empty gallery and keeps the old one.
 * Writes go to a temporary file that replaces the gallery only once complete; a gallery that cannot
 * be read is moved aside (never overwritten) and reported.
 */
final class GalleryStore {
    private final File file;
    private final String model;
    private final int embeddingSize;

    GalleryStore(File folder, String model, int embeddingSize) {
        this.file = new File(folder, "gallery-" + model.replaceAll("[^A-Za-z0-9_.@-]", "_") + ".tfmg");
        this.model = model;
        this.embeddingSize = embeddingSize;
    }

    File file() {
        return file;
    }

    /** The stored gallery, or an empty one when there is none yet. */
    Gallery load() throws IOException {
        if (!file.exists()) {
            return new Gallery(model, embeddingSize);
        }
        try (InputStream stream = new FileInputStream(file)) {
            return Gallery.read(stream, model, embeddingSize);
        } catch (IOException unreadable) {
            File aside = new File(file.getPath() + ".unreadable-" + System.currentTimeMillis());
            String kept = file.renameTo(aside) ? "kept as " + aside.getName() : "left in place";
            throw new IOException("The enrollment gallery could not be read (" + unreadable.getMessage()
                    + "); it was " + kept + " and enrollment starts empty.");
        }
    }

    void save(Gallery gallery) throws IOException {
        File partial = new File(file.getPath() + ".partial");
        try (OutputStream stream = new FileOutputStream(partial)) {
            gallery.write(stream);
        }
        if (!partial.renameTo(file)) {
            throw new IOException("could not replace " + file.getName() + "; the previous gallery is unchanged");
        }
    }
}
