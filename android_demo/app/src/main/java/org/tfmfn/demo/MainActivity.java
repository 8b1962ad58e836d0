package org.tfmfn.demo;

import android.Manifest;
import android.app.Activity;
import android.app.AlertDialog;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.graphics.Color;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.EditText;
import android.widget.Spinner;
import android.widget.TextView;
import android.widget.Toast;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageProxy;
import androidx.camera.core.Preview;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.lifecycle.Lifecycle;
import androidx.lifecycle.LifecycleOwner;
import androidx.lifecycle.LifecycleRegistry;
import com.google.common.util.concurrent.ListenableFuture;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.tfmfn.facecore.CameraFrame;
import org.tfmfn.facecore.Gallery;
import org.tfmfn.facecore.OperatingPoint;

/**
 * The camera screen: live detection, and the three things a user does with it. Enroll takes several
 * samples of one face under a name; Verify (1:1) says whether the face is one chosen person; Identify
 * (1:N) names the closest enrolled person, or nobody. Each mode uses its own threshold from the
 * model's metadata (1:1 at FAR 1e-3; 1:N at the stricter FAR 1e-4, since every enrolled face is one
 * more chance of a false accept), and the status line says which. Models, gallery and frames live on
 * one analysis thread, whose tasks report failures on the status line; the UI thread only shows
 * results. The camera frame is read into one pixel array kept from frame to frame.
 *
 * <p>The activity is a plain {@link Activity} that is its own {@link LifecycleOwner}, the type CameraX
 * binds its use cases to, so the app needs no AndroidX beyond CameraX.
 */
public final class MainActivity extends Activity implements LifecycleOwner {
    static final String EXTRA_MODEL = "model", EXTRA_EMBEDDING_SIZE = "embedding_size";
    private static final int CAMERA_REQUEST = 1;
    private static final int SAMPLES_PER_ENROLLMENT = 5;
    private static final long MS_BETWEEN_SAMPLES = 400;
    private static final double FALLBACK_THRESHOLD = 1.2;
    private static final int[] THREAD_CHOICES = {1, 2, 4};
    private static final int MATCH = Color.rgb(60, 200, 90), NO_MATCH = Color.rgb(230, 70, 60);

    private enum Mode { WATCH, ENROLL, VERIFY, IDENTIFY }

    private final LifecycleRegistry lifecycle = new LifecycleRegistry(this);
    private final ExecutorService analysis = Executors.newSingleThreadExecutor();
    private final Executor mainThread = new Handler(Looper.getMainLooper())::post;
    private PreviewView preview;
    private OverlayView overlay;
    private TextView status, latency;
    private ProcessCameraProvider cameraProvider;
    private boolean cameraStarting;
    private int lensFacing = CameraSelector.LENS_FACING_FRONT;

    // Owned by the analysis thread.
    private ModelAssets models;
    private FacePipeline pipeline;
    private GalleryStore store;
    private Gallery gallery;
    private OperatingPoint verifyPoint, identifyPoint;
    private int[] frame;
    private String notice = "";
    private Mode mode = Mode.WATCH;
    private String person;
    private final List<float[]> samples = new ArrayList<>();
    private long lastSampleAt;

    // Written by the analysis thread, read by the UI thread.
    private volatile List<String> enrolled = Collections.emptyList();
    private volatile boolean ready;

    @Override
    public Lifecycle getLifecycle() {
        return lifecycle;
    }

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        lifecycle.handleLifecycleEvent(Lifecycle.Event.ON_CREATE);
        setContentView(R.layout.activity_main);
        SystemBars.keepClear(findViewById(R.id.root));
        preview = findViewById(R.id.preview);
        overlay = findViewById(R.id.overlay);
        status = findViewById(R.id.status);
        latency = findViewById(R.id.latency);
        this.<Button>findViewById(R.id.enroll).setOnClickListener(view -> askNameAndEnroll());
        this.<Button>findViewById(R.id.verify).setOnClickListener(view -> choosePersonAndVerify());
        this.<Button>findViewById(R.id.identify).setOnClickListener(view -> identify());
        this.<Button>findViewById(R.id.people).setOnClickListener(view -> openPeople());
        this.<Button>findViewById(R.id.flip).setOnClickListener(view -> flipCamera());
        setUpThreadChoice(findViewById(R.id.threads));
        inBackground("Loading the models", () -> loadModels(THREAD_CHOICES[1]));
        if (!cameraAllowed()) {
            requestPermissions(new String[] {Manifest.permission.CAMERA}, CAMERA_REQUEST);
        }
    }

    private boolean cameraAllowed() {
        return checkSelfPermission(Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED;
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] results) {
        if (requestCode != CAMERA_REQUEST) {
            return;
        }
        if (results.length > 0 && results[0] == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            status.setText(R.string.camera_denied);
        }
    }

    @Override
    protected void onStart() {
        super.onStart();
        lifecycle.handleLifecycleEvent(Lifecycle.Event.ON_START);
    }

    @Override
    protected void onResume() {
        super.onResume();
        lifecycle.handleLifecycleEvent(Lifecycle.Event.ON_RESUME);
        if (cameraAllowed()) {
            startCamera(); // the permission may have been granted in the system settings meanwhile
        }
        inBackground("Reading the enrolled people", this::loadGallery); // the people screen may have deleted someone
    }

    @Override
    protected void onPause() {
        lifecycle.handleLifecycleEvent(Lifecycle.Event.ON_PAUSE);
        super.onPause();
    }

    @Override
    protected void onStop() {
        lifecycle.handleLifecycleEvent(Lifecycle.Event.ON_STOP);
        super.onStop();
    }

    @Override
    protected void onDestroy() {
        lifecycle.handleLifecycleEvent(Lifecycle.Event.ON_DESTROY);
        inBackground("Closing the models", () -> {
            if (pipeline != null) {
                pipeline.close();
                pipeline = null;
            }
        });
        analysis.shutdown();
        super.onDestroy();
    }

    private void setUpThreadChoice(Spinner spinner) {
        List<String> labels = new ArrayList<>();
        for (int threads : THREAD_CHOICES) {
            labels.add(threads + (threads == 1 ? " thread" : " threads"));
        }
        ArrayAdapter<String> adapter = new ArrayAdapter<>(this, android.R.layout.simple_spinner_item, labels);
        adapter.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
        spinner.setAdapter(adapter);
        spinner.setSelection(1);
        spinner.setOnItemSelectedListener(new AdapterView.OnItemSelectedListener() {
            @Override
            public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
                int threads = THREAD_CHOICES[position];
                inBackground("Switching to " + threads + " threads", () -> {
                    if (models != null && pipeline != null && pipeline.threads != threads) {
                        FacePipeline next = new FacePipeline(models, threads);
                        pipeline.close();
                        pipeline = next;
                    }
                });
            }

            @Override
            public void onNothingSelected(AdapterView<?> parent) {}
        });
    }

    /** Runs {@code task} on the analysis thread; a failure becomes a status message, not a crash. */
    private void inBackground(String what, Runnable task) {
        try {
            analysis.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException error) {
                    showStatus(what + " failed: " + error.getMessage());
                }
            });
        } catch (RejectedExecutionException closing) {
            // the activity is being destroyed: nothing is left to do the task for
        }
    }

    private void loadModels(int threads) {
        try {
            models = ModelAssets.load(getAssets());
            pipeline = new FacePipeline(models, threads);
        } catch (IOException | RuntimeException error) {
            showStatus(error.getMessage());
            return;
        }
        verifyPoint = models.metadata.pointFor(OperatingPoint.VERIFY);
        identifyPoint = models.metadata.pointFor(OperatingPoint.IDENTIFY);
        if (verifyPoint == null) {
            verifyPoint = OperatingPoint.appDefault(OperatingPoint.VERIFY, FALLBACK_THRESHOLD);
            identifyPoint = OperatingPoint.appDefault(OperatingPoint.IDENTIFY, FALLBACK_THRESHOLD);
            notice = String.format(Locale.US, "The model carries no thresholds; using %.2f. ", FALLBACK_THRESHOLD);
        }
        store = new GalleryStore(getFilesDir(), models.identity, models.metadata.embeddingSize);
        ready = true;
        loadGallery();
        setMode(Mode.WATCH, null);
    }

    private void loadGallery() {
        if (store == null) {
            return;
        }
        try {
            gallery = store.load();
        } catch (IOException unreadable) {
            gallery = new Gallery(models.identity, models.metadata.embeddingSize);
            notice = unreadable.getMessage() + " ";
        }
        enrolled = gallery.names();
        if (mode == Mode.VERIFY && !enrolled.contains(person)) {
            setMode(Mode.WATCH, null);
        }
    }

    private void setMode(Mode next, String name) {
        mode = next;
        person = name;
        samples.clear();
        lastSampleAt = 0;
        showStatus(notice + describeMode());
    }

    private String describeMode() {
        switch (mode) {
            case ENROLL:
                return "Enrolling " + person + ": look at the camera, turn your head a little.";
            case VERIFY:
                return "Verifying: is this " + person + "? " + verifyPoint.describe();
            case IDENTIFY:
                return "Identifying among " + enrolled.size() + " enrolled. " + identifyPoint.describe();
            default:
                return String.format(Locale.US, "%s (%s). %d enrolled. Press Enroll, Verify or Identify. %s; %s.",
                        models.metadata.model, models.metadata.quantization, enrolled.size(), verifyPoint.describe(),
                        identifyPoint.describe());
        }
    }

    /** Binds the camera once, when it is allowed: on the permission's grant, or on a resume after one. */
    private void startCamera() {
        if (cameraProvider != null || cameraStarting) {
            return;
        }
        cameraStarting = true;
        ListenableFuture<ProcessCameraProvider> future = ProcessCameraProvider.getInstance(this);
        future.addListener(() -> {
            cameraStarting = false;
            try {
                cameraProvider = future.get();
                bindCamera();
            } catch (ExecutionException | InterruptedException | RuntimeException error) {
                status.setText("The camera could not start: " + error.getMessage());
            }
        }, mainThread);
    }

    private void bindCamera() {
        CameraSelector selector = new CameraSelector.Builder().requireLensFacing(lensFacing).build();
        Preview previewUseCase = new Preview.Builder().build();
        previewUseCase.setSurfaceProvider(preview.getSurfaceProvider());
        ImageAnalysis analysisUseCase = new ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build();
        analysisUseCase.setAnalyzer(analysis, this::analyze);
        cameraProvider.unbindAll();
        try {
            cameraProvider.bindToLifecycle(this, selector, previewUseCase, analysisUseCase);
        } catch (IllegalArgumentException noSuchCamera) {
            status.setText("This device has no " + (lensFacing == CameraSelector.LENS_FACING_FRONT ? "front" : "back")
                    + " camera; press Flip.");
        }
    }

    private void flipCamera() {
        lensFacing = lensFacing == CameraSelector.LENS_FACING_FRONT
                ? CameraSelector.LENS_FACING_BACK : CameraSelector.LENS_FACING_FRONT;
        if (cameraProvider != null) {
            bindCamera();
        }
    }

    /** Runs on the analysis thread for the latest camera frame. */
    private void analyze(ImageProxy image) {
        try {
            if (pipeline == null) {
                return;
            }
            ImageProxy.PlaneProxy plane = image.getPlanes()[0];
            int rotation = image.getImageInfo().getRotationDegrees();
            frame = CameraFrame.uprightArgb(plane.getBuffer(), image.getWidth(), image.getHeight(),
                    plane.getRowStride(), plane.getPixelStride(), rotation, frame);
            int width = CameraFrame.uprightWidth(image.getWidth(), image.getHeight(), rotation);
            int height = CameraFrame.uprightHeight(image.getWidth(), image.getHeight(), rotation);
            long start = System.nanoTime();
            FacePipeline.Result result = pipeline.process(frame, width, height);
            double totalMs = (System.nanoTime() - start) / 1e6;
            String label = decide(result);
            int color = label.startsWith("✓") ? MATCH : label.startsWith("✗") ? NO_MATCH : Color.WHITE;
            boolean mirrored = lensFacing == CameraSelector.LENS_FACING_FRONT;
            String timing = String.format(Locale.US,
                    "detect %5.1f  align %4.1f  embed %5.1f  total %5.1f ms  %dx%d, %d threads, %s",
                    result.detectMs, result.alignMs, result.embedMs, totalMs, width, height, pipeline.threads,
                    models.metadata.quantization);
            runOnUiThread(() -> {
                overlay.show(result.faces, width, height, mirrored, label, color);
                latency.setText(timing);
            });
        } catch (RuntimeException error) {
            showStatus("This frame failed: " + error.getMessage());
        } finally {
            image.close();
        }
    }

    /** Acts on one frame in the current mode; returns the label for the largest face. */
    private String decide(FacePipeline.Result result) {
        if (result.embedding == null) {
            return "";
        }
        switch (mode) {
            case ENROLL:
                return collectSample(result.embedding);
            case VERIFY: {
                double distance = gallery.distance(person, result.embedding);
                boolean same = distance < verifyPoint.threshold;
                return String.format(Locale.US, "%s %s  d² %.2f / %.2f (1:1)", same ? "✓" : "✗", person, distance,
                        verifyPoint.threshold);
            }
            case IDENTIFY: {
                Gallery.Match match = gallery.identify(result.embedding, identifyPoint.threshold);
                return match == null ? "✗ unknown (1:N)"
                        : String.format(Locale.US, "✓ %s  d² %.2f / %.2f (1:N)", match.name, match.squaredDistance,
                                identifyPoint.threshold);
            }
            default:
                return "face";
        }
    }

    private String collectSample(float[] embedding) {
        long now = System.currentTimeMillis();
        if (now - lastSampleAt >= MS_BETWEEN_SAMPLES) {
            samples.add(embedding);
            lastSampleAt = now;
        }
        if (samples.size() < SAMPLES_PER_ENROLLMENT) {
            return String.format(Locale.US, "sample %d / %d", samples.size(), SAMPLES_PER_ENROLLMENT);
        }
        for (float[] sample : samples) {
            gallery.enroll(person, sample);
        }
        String name = person;
        try {
            store.save(gallery);
            notice = "Enrolled " + name + " (" + gallery.samples(name) + " samples). ";
        } catch (IOException error) {
            notice = "Enrolled " + name + " for this session only: " + error.getMessage() + ". ";
        }
        enrolled = gallery.names();
        setMode(Mode.WATCH, null);
        return "✓ " + name;
    }

    private void askNameAndEnroll() {
        if (!ready) {
            Toast.makeText(this, status.getText(), Toast.LENGTH_LONG).show();
            return;
        }
        EditText name = new EditText(this);
        name.setHint(R.string.enroll_hint);
        name.setSingleLine();
        new AlertDialog.Builder(this)
                .setTitle(R.string.enroll_title)
                .setView(name)
                .setPositiveButton(R.string.start, (dialog, which) -> {
                    String chosen = name.getText().toString().trim();
                    if (chosen.isEmpty()) {
                        Toast.makeText(this, "A person needs a name.", Toast.LENGTH_SHORT).show();
                    } else {
                        inBackground("Enrolling", () -> setMode(Mode.ENROLL, chosen));
                    }
                })
                .setNegativeButton(R.string.cancel, null)
                .show();
    }

    private void choosePersonAndVerify() {
        List<String> names = enrolled;
        if (!ready || names.isEmpty()) {
            Toast.makeText(this, ready ? getString(R.string.no_people) : status.getText(), Toast.LENGTH_LONG).show();
            return;
        }
        String[] choices = names.toArray(new String[0]);
        new AlertDialog.Builder(this)
                .setTitle(R.string.verify_title)
                .setItems(choices, (dialog, which) -> inBackground("Verifying", () -> setMode(Mode.VERIFY, choices[which])))
                .show();
    }

    private void identify() {
        if (!ready) {
            Toast.makeText(this, status.getText(), Toast.LENGTH_LONG).show();
            return;
        }
        inBackground("Identifying", () -> setMode(Mode.IDENTIFY, null));
    }

    private void openPeople() {
        if (!ready) {
            Toast.makeText(this, status.getText(), Toast.LENGTH_LONG).show();
            return;
        }
        startActivity(new Intent(this, PeopleActivity.class)
                .putExtra(EXTRA_MODEL, models.identity)
                .putExtra(EXTRA_EMBEDDING_SIZE, models.metadata.embeddingSize));
    }

    private void showStatus(String text) {
        runOnUiThread(() -> status.setText(text));
    }
}
