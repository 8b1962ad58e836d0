package org.tfmfn.demo;

import android.app.Activity;
import android.app.AlertDialog;
import android.os.Bundle;
import android.widget.ArrayAdapter;
import android.widget.ListView;
import android.widget.TextView;
import android.widget.Toast;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.tfmfn.facecore.Gallery;

/** The enrolled people of the current model, with their sample counts; tap one to delete them. */
public final class PeopleActivity extends Activity {
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
        refresh();
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
