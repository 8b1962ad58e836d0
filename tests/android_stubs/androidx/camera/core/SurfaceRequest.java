// A compile-time stub for tests/test_android_app.py: signatures transcribed from CameraX 1.4.2 (androidx.camera:camera-core, camera-lifecycle, camera-view 1.4.2).
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package androidx.camera.core;

public final class SurfaceRequest {
    SurfaceRequest() { throw new RuntimeException("Stub!"); }
}
