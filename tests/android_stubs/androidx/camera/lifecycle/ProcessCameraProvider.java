// A compile-time stub for tests/test_android_app.py: signatures transcribed from CameraX 1.4.2 (androidx.camera:camera-core, camera-lifecycle, camera-view 1.4.2).
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package androidx.camera.lifecycle;

import android.content.Context;
import androidx.camera.core.Camera;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.UseCase;
import androidx.lifecycle.LifecycleOwner;
import com.google.common.util.concurrent.ListenableFuture;

public final class ProcessCameraProvider {
    ProcessCameraProvider() { throw new RuntimeException("Stub!"); }

    public static ListenableFuture<ProcessCameraProvider> getInstance(Context context) { throw new RuntimeException("Stub!"); }

    public Camera bindToLifecycle(LifecycleOwner lifecycleOwner, CameraSelector cameraSelector, UseCase... useCases) { throw new RuntimeException("Stub!"); }

    public void unbind(UseCase... useCases) { throw new RuntimeException("Stub!"); }

    public void unbindAll() { throw new RuntimeException("Stub!"); }
}
