// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.os;

public class Handler {
    public Handler(Looper looper) { throw new RuntimeException("Stub!"); }

    public final boolean post(Runnable r) { throw new RuntimeException("Stub!"); }
}
