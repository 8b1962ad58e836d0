package org.tfmfn.demo;

import android.app.Activity;
import android.app.AlertDialog;
import android.content.Intent;
import android.net.Uri;
import android.os.Bundle;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.ListView;
import android.widget.TextView;
import android.widget.Toast;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import org.tfmfn.facecore.Gallery;

/**
 * The enrolled people of the current model, with their sample counts; tap one to delete them. Export
 * writes the gallery as one file where the user chooses (the system's document picker); Import adds the
 * people of such a file, made on another device with the same model (its identity and embedding size
 * are checked; a name enrolled here is kept as it is).
 */
public final class PeopleActivity extends Activity {
    private static final int EXPORT_REQUEST = 1, IMPORT_REQUEST = 2;
    private static final String GALLERY_TYPE = "application/octet-stream";
    private GalleryStore store;
    private Gallery gallery;
    private ListView list;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_people);
        SystemBars.keepClear(findViewById(R.id.root));
        list = findViewById(R.id.list);
        list.setEmptyView(this.<TextView>findViewById(R.id.empty));
        String model = getIntent().getStringExtra(MainActivity.EXTRA_MODEL);
        int embeddingSize = getIntent().getIntExtra(MainActivity.EXTRA_EMBEDDING_SIZE, 0);
        store = new GalleryStore(getFilesDir(), model, embeddingSize);
        try {
            gallery = store.load();
        } catch (IOException unreadable) {
            Toast.makeText(this, unreadable.getMessage(), Toast.LENGTH_LONG).show();
            gallery = new Gallery(model, embeddingSize);
        }
        list.setOnItemClickListener((parent, view, position, id) -> confirmDelete(gallery.names().get(position)));
        this.<Button>findViewById(R.id.export_gallery).setOnClickListener(view -> startActivityForResult(
                new Intent(Intent.ACTION_CREATE_DOCUMENT).addCategory(Intent.CATEGORY_OPENABLE).setType(GALLERY_TYPE)
                        .putExtra(Intent.EXTRA_TITLE, "tfmfn-gallery.tfmg"), EXPORT_REQUEST));
        this.<Button>findViewById(R.id.import_gallery).setOnClickListener(view -> startActivityForResult(
                new Intent(Intent.ACTION_OPEN_DOCUMENT).addCategory(Intent.CATEGORY_OPENABLE).setType(GALLERY_TYPE),
                IMPORT_REQUEST));
        refresh();
    }

    @Override
    protected void onActivityResult(int requestCode, int resultCode, Intent data) {
        if (resultCode != RESULT_OK || data == null || data.getData() == null) {
            return;
        }
        Uri file = data.getData();
        if (requestCode == EXPORT_REQUEST) {
            try (OutputStream stream = getContentResolver().openOutputStream(file)) {
                if (stream == null) {
                    throw new IOException("the chosen place cannot be written");
                }
                gallery.write(stream);
                say("Exported " + gallery.names().size() + " people.");
            } catch (IOException | SecurityException error) {
                say("Not exported: " + error.getMessage());
            }
        } else if (requestCode == IMPORT_REQUEST) {
            importFrom(file);
        }
    }

    /** Adds the people of an exported gallery; the stored gallery changes only once the whole file was read. */
    private void importFrom(Uri file) {
        Gallery.Imported imported;
        try (InputStream stream = getContentResolver().openInputStream(file)) {
            if (stream == null) {
                throw new IOException("the chosen file cannot be read");
            }
            imported = gallery.importFrom(stream);
        } catch (IOException | SecurityException error) {
            say("Not imported: " + error.getMessage());
            return;
        }
        try {
            store.save(gallery);
        } catch (IOException error) {
            say("Imported for this session only: " + error.getMessage());
        }
        say("Imported " + imported.added.size() + " people" + (imported.skipped.isEmpty() ? "."
                : "; kept the enrolled " + String.join(", ", imported.skipped) + " as they were."));
        refresh();
    }

    private void say(String message) {
        Toast.makeText(this, message, Toast.LENGTH_LONG).show();
    }

    private void refresh() {
        List<String> rows = new ArrayList<>();
        for (String name : gallery.names()) {
            int samples = gallery.samples(name);
            rows.add(name + "  (" + samples + (samples == 1 ? " sample)" : " samples)"));
        }
        list.setAdapter(new ArrayAdapter<>(this, android.R.layout.simple_list_item_1, rows));
    }

    private void confirmDelete(String name) {
        new AlertDialog.Builder(this)
                .setTitle(getString(R.string.delete_title, name, gallery.samples(name)))
                .setPositiveButton(R.string.delete, (dialog, which) -> {
                    gallery.delete(name);
                    try {
                        store.save(gallery);
                    } catch (IOException error) {
                        Toast.makeText(this, "Not deleted: " + error.getMessage(), Toast.LENGTH_LONG).show();
                        try {
                            gallery = store.load();
                        } catch (IOException unreadable) {
                            Toast.makeText(this, unreadable.getMessage(), Toast.LENGTH_LONG).show();
                        }
                    }
                    refresh();
                })
                .setNegativeButton(R.string.cancel, null)
                .show();
    }
}
