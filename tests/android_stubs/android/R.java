// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android;

public final class R {
    public R() { throw new RuntimeException("Stub!"); }

    public static final class layout {
        public layout() { throw new RuntimeException("Stub!"); }

        public static final int simple_list_item_1 = 17367043;
        public static final int simple_spinner_dropdown_item = 17367049;
        public static final int simple_spinner_item = 17367048;
    }
}
