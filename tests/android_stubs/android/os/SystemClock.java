// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.os;

public final class SystemClock {
    SystemClock() { throw new RuntimeException("Stub!"); }

    public static long elapsedRealtime() { throw new RuntimeException("Stub!"); }
}
