package org.tfmfn.demo;

import android.Manifest;
import android.app.Activity;
import android.app.AlertDialog;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.graphics.Color;
import android.net.Uri;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import android.os.SystemClock;
import android.provider.Settings;
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
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.tfmfn.facecore.BlazeFace;
import org.tfmfn.facecore.CameraFrame;
import org.tfmfn.facecore.Enrolment;
import org.tfmfn.facecore.Gallery;
import org.tfmfn.facecore.OperatingPoint;
import org.tfmfn.facecore.Session;

/**
 * The camera screen: live detection, and what a user does with it (decided by facecore's
 * {@link Session}, on the JVM-tested side). Enroll asks the person to turn the head as told (liveness),
 * then takes checked samples of one face under a name and warns when the face is someone enrolled
 * already; Photos enrols a person from pictures picked with the system photo picker; Verify (1:1)
 * asks for the same turns, then decides by a vote over frames whether the face is one chosen person;
 * Identify (1:N) names every face in the frame, or nobody. Each mode uses its own threshold from the
 * model's metadata (1:1 at FAR 1e-3; 1:N at the stricter FAR 1e-4), and the status line gives it with
 * the false accept rate of one decision. Models, gallery and frames live on one analysis thread, whose
 * tasks report failures on the status line; the UI thread only shows results. The camera frame is read
 * into one pixel array kept from frame to frame. The activity handles configuration changes itself
 * (the manifest's configChanges), so an enrolment under way survives them.
 *
 * <p>The activity is a plain {@link Activity} that is its own {@link LifecycleOwner}, the type CameraX
 * binds its use cases to, so the app needs no AndroidX beyond CameraX.
 */
public final class MainActivity extends Activity implements LifecycleOwner {
    static final String EXTRA_MODEL = "model", EXTRA_EMBEDDING_SIZE = "embedding_size";
    private static final int CAMERA_REQUEST = 1, PHOTOS_REQUEST = 2;
    private static final double FALLBACK_THRESHOLD = 1.2;
    private static final int[] THREAD_CHOICES = {1, 2, 4};
    private static final int MATCH = Color.rgb(60, 200, 90), NO_MATCH = Color.rgb(230, 70, 60);

    private final LifecycleRegistry lifecycle = new LifecycleRegistry(this);
    private final ExecutorService analysis = Executors.newSingleThreadExecutor();
    private final Executor mainThread = new Handler(Looper.getMainLooper())::post;
    private PreviewView preview;
    private OverlayView overlay;
    private TextView status, latency;
    private Button settings;
    private ProcessCameraProvider cameraProvider;
    private boolean cameraStarting;
    private int lensFacing = CameraSelector.LENS_FACING_FRONT;
    private String photosName;

    // Owned by the analysis thread.
    private ModelAssets models;
    private FacePipeline pipeline;
    private GalleryStore store;
    private Gallery gallery;
    private Session session;
    private OperatingPoint verifyPoint, identifyPoint;
    private int[] frame;
    private String notice = "";

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
        settings = findViewById(R.id.settings);
        settings.setOnClickListener(view -> openAppSettings());
        this.<Button>findViewById(R.id.enroll).setOnClickListener(view -> askName(this::startEnrolment));
        this.<Button>findViewById(R.id.photos).setOnClickListener(view -> askName(this::pickPhotos));
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
            settings.setVisibility(View.GONE);
            startCamera();
        } else {
            // Denied for good (or twice), Android no longer asks: only the app's system settings can allow it.
            boolean askAgain = shouldShowRequestPermissionRationale(Manifest.permission.CAMERA);
            status.setText(askAgain ? R.string.camera_denied_once : R.string.camera_denied);
            settings.setVisibility(View.VISIBLE);
        }
    }

    private void openAppSettings() {
        if (cameraAllowed() || shouldShowRequestPermissionRationale(Manifest.permission.CAMERA)) {
            requestPermissions(new String[] {Manifest.permission.CAMERA}, CAMERA_REQUEST);
            return;
        }
        startActivity(new Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS,
                Uri.fromParts("package", getPackageName(), null)));
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
            settings.setVisibility(View.GONE);
            startCamera(); // the permission may have been granted in the system settings meanwhile
        }
        inBackground("Reading the enrolled people", this::loadGallery); // the people screen may have changed them
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
        verifyPoint = pipeline.metadata.pointFor(OperatingPoint.VERIFY);
        identifyPoint = pipeline.metadata.pointFor(OperatingPoint.IDENTIFY);
        if (verifyPoint == null) {
            verifyPoint = OperatingPoint.appDefault(OperatingPoint.VERIFY, FALLBACK_THRESHOLD);
            identifyPoint = OperatingPoint.appDefault(OperatingPoint.IDENTIFY, FALLBACK_THRESHOLD);
            notice = String.format(Locale.US, "%s carries no measured thresholds%s; using %.2f, whose false accept rate "
                    + "is unknown. ", ModelAssets.EMBEDDER, pipeline.metadata.standardOnly
                    ? " (only TFLite's standard metadata)" : "", FALLBACK_THRESHOLD);
        }
        store = new GalleryStore(getFilesDir(), models.identity, pipeline.metadata.embeddingSize);
        loadGallery();
        session = new Session(gallery, verifyPoint, identifyPoint, new SecureRandom());
        ready = true;
        showMode();
    }

    private void loadGallery() {
        if (store == null) {
            return;
        }
        try {
            gallery = store.load();
        } catch (IOException unreadable) {
            gallery = new Gallery(models.identity, pipeline.metadata.embeddingSize);
            notice = unreadable.getMessage() + " ";
        }
        enrolled = gallery.names();
        if (session != null) {
            session.setGallery(gallery);
            if (session.mode() == Session.Mode.VERIFY && !enrolled.contains(session.person())) {
                session.watch();
                showMode();
            }
        }
    }

    private void showMode() {
        if (session.mode() == Session.Mode.WATCH) {
            showStatus(String.format(Locale.US, "%s%s (%s). %d enrolled. Enroll, Verify or Identify. %s; %s.", notice,
                    pipeline.metadata.model, pipeline.metadata.quantization, enrolled.size(), verifyPoint.describe(),
                    identifyPoint.describe()));
        } else {
            showStatus(notice + session.describe());
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
            if (pipeline == null || session == null) {
                return;
            }
            ImageProxy.PlaneProxy plane = image.getPlanes()[0];
            int rotation = image.getImageInfo().getRotationDegrees();
            frame = CameraFrame.uprightArgb(plane.getBuffer(), image.getWidth(), image.getHeight(),
                    plane.getRowStride(), plane.getPixelStride(), rotation, frame);
            int width = CameraFrame.uprightWidth(image.getWidth(), image.getHeight(), rotation);
            int height = CameraFrame.uprightHeight(image.getWidth(), image.getHeight(), rotation);
            FacePipeline.Work work = session.needsEmbeddings() ? FacePipeline.Work.EMBED
                    : session.needsLandmarks() ? FacePipeline.Work.ALIGN : FacePipeline.Work.DETECT;
            long start = System.nanoTime();
            FacePipeline.Result result = pipeline.process(frame, width, height, work);
            double totalMs = (System.nanoTime() - start) / 1e6;
            Session.Outcome outcome = session.frame(sessionFaces(result), SystemClock.elapsedRealtime());
            if (outcome.enrolledName != null) {
                finishEnrolment(outcome.enrolledName, outcome.enrolledSamples, outcome.lookalike);
            } else if (session.mode() != Session.Mode.WATCH) {
                showStatus(notice + outcome.status);
            }
            List<String> labels = new ArrayList<>();
            List<Integer> colors = new ArrayList<>();
            for (Session.Label label : outcome.labels) {
                labels.add(label.text);
                colors.add(label.kind == Session.Kind.MATCH ? MATCH : label.kind == Session.Kind.NO_MATCH ? NO_MATCH
                        : Color.WHITE);
            }
            boolean mirrored = lensFacing == CameraSelector.LENS_FACING_FRONT;
            String timing = String.format(Locale.US,
                    "detect %5.1f  align %4.1f  embed %5.1f  total %5.1f ms  %dx%d, %d threads, %s",
                    result.detectMs, result.alignMs, result.embedMs, totalMs, width, height, pipeline.threads,
                    pipeline.metadata.quantization);
            runOnUiThread(() -> {
                overlay.show(detections(result), width, height, mirrored, labels, colors);
                latency.setText(timing);
            });
        } catch (RuntimeException error) {
            showStatus("This frame failed: " + error.getMessage());
        } finally {
            image.close();
        }
    }

    private static List<Session.Face> sessionFaces(FacePipeline.Result result) {
        List<Session.Face> faces = new ArrayList<>();
        for (FacePipeline.Face face : result.faces) {
            faces.add(new Session.Face(face.detection.box, face.landmarks, face.quality, face.embedding));
        }
        return faces;
    }

    private static List<BlazeFace.Detection> detections(FacePipeline.Result result) {
        List<BlazeFace.Detection> detections = new ArrayList<>();
        for (FacePipeline.Face face : result.faces) {
            detections.add(face.detection);
        }
        return detections;
    }

    /** Stores a finished enrolment; when the face resembles someone enrolled, asks first. */
    private void finishEnrolment(String name, List<float[]> samples, Gallery.Match lookalike) {
        if (lookalike == null) {
            enrol(name, samples, "");
            return;
        }
        String question = String.format(Locale.US, "%s looks like %s, who is enrolled already (d² %.2f, below the 1:N "
                + "threshold %.2f). Enrol %s anyway?", name, lookalike.name, lookalike.squaredDistance,
                identifyPoint.threshold, name);
        runOnUiThread(() -> new AlertDialog.Builder(this)
                .setTitle(R.string.lookalike_title)
                .setMessage(question)
                .setPositiveButton(R.string.enroll_anyway, (dialog, which) -> inBackground("Enrolling",
                        () -> enrol(name, samples, " Warning: resembles " + lookalike.name + ".")))
                .setNegativeButton(R.string.cancel, (dialog, which) -> showStatus("Not enrolled: " + name + "."))
                .show());
    }

    private void enrol(String name, List<float[]> samples, String warning) {
        for (float[] sample : samples) {
            gallery.enroll(name, sample);
        }
        try {
            store.save(gallery);
            notice = "Enrolled " + name + " (" + gallery.samples(name) + " samples)." + warning + " ";
        } catch (IOException error) {
            notice = "Enrolled " + name + " for this session only: " + error.getMessage() + "." + warning + " ";
        }
        enrolled = gallery.names();
        session.setGallery(gallery);
        showMode();
    }

    private void askName(NameAction then) {
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
                        then.run(chosen);
                    }
                })
                .setNegativeButton(R.string.cancel, null)
                .show();
    }

    private interface NameAction {
        void run(String name);
    }

    private void startEnrolment(String name) {
        inBackground("Enrolling", () -> {
            session.enroll(name);
            showMode();
        });
    }

    private void pickPhotos(String name) {
        photosName = name;
        startActivityForResult(Photos.pickIntent(), PHOTOS_REQUEST);
    }

    @Override
    protected void onActivityResult(int requestCode, int resultCode, Intent data) {
        if (requestCode != PHOTOS_REQUEST || resultCode != RESULT_OK || data == null) {
            return;
        }
        List<Uri> picked = Photos.picked(data);
        String name = photosName;
        inBackground("Enrolling from photos", () -> enrolFromPhotos(name, picked));
    }

    /** Enrols {@code name} from photos: each must hold exactly one usable face, and the faces must agree. */
    private void enrolFromPhotos(String name, List<Uri> photos) {
        List<float[]> samples = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (int i = 0; i < photos.size(); i++) {
            String which = "photo " + (i + 1);
            try {
                Photos.Pixels photo = Photos.read(getContentResolver(), photos.get(i));
                FacePipeline.Result result = pipeline.process(photo.argb, photo.width, photo.height, FacePipeline.Work.EMBED);
                FacePipeline.Face face = result.faces.isEmpty() ? null : result.faces.get(0);
                String problem = Enrolment.problem(result.faces.size(), face == null ? null : face.quality);
                if (problem != null) {
                    skipped.add(which + ": " + problem);
                } else {
                    samples.add(face.embedding);
                }
            } catch (IOException unreadable) {
                skipped.add(which + ": " + unreadable.getMessage());
            }
        }
        int odd = samples.size() > 2 ? Enrolment.outlier(samples, verifyPoint.threshold) : -1;
        if (odd >= 0) {
            samples.remove(odd);
            skipped.add("one face did not look like the others");
        }
        String report = skipped.isEmpty() ? "" : " Skipped: " + String.join("; ", skipped) + ".";
        if (samples.isEmpty()) {
            showStatus("Not enrolled: no usable face in the photos." + report);
            return;
        }
        notice = report.isEmpty() ? "" : report.trim() + " ";
        finishEnrolment(name, samples, Enrolment.lookalike(gallery, samples, identifyPoint.threshold));
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
                .setItems(choices, (dialog, which) -> inBackground("Verifying", () -> {
                    session.verify(choices[which]);
                    showMode();
                }))
                .show();
    }

    private void identify() {
        if (!ready) {
            Toast.makeText(this, status.getText(), Toast.LENGTH_LONG).show();
            return;
        }
        inBackground("Identifying", () -> {
            session.identify();
            showMode();
        });
    }

    private void openPeople() {
        if (!ready) {
            Toast.makeText(this, status.getText(), Toast.LENGTH_LONG).show();
            return;
        }
        startActivity(new Intent(this, PeopleActivity.class)
                .putExtra(EXTRA_MODEL, models.identity)
                .putExtra(EXTRA_EMBEDDING_SIZE, pipeline.metadata.embeddingSize));
    }

    private void showStatus(String text) {
        runOnUiThread(() -> status.setText(text));
    }
}
