// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.os;

public class Build {
    public Build() { throw new RuntimeException("Stub!"); }

    public static class VERSION {
        public VERSION() { throw new RuntimeException("Stub!"); }

        public static final int SDK_INT = sdk();

        private static int sdk() { throw new RuntimeException("Stub!"); }
    }

    public static class VERSION_CODES {
        public VERSION_CODES() { throw new RuntimeException("Stub!"); }

        public static final int P = 28;

        public static final int R = 30;

        public static final int TIRAMISU = 33;
    }
}
