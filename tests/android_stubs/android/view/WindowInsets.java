// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.view;

import android.graphics.Insets;

public final class WindowInsets {
    WindowInsets() { throw new RuntimeException("Stub!"); }

    /** API 30. */
    public Insets getInsets(int typeMask) { throw new RuntimeException("Stub!"); }

    /** API 20, deprecated in API 30. */
    public int getSystemWindowInsetLeft() { throw new RuntimeException("Stub!"); }

    public int getSystemWindowInsetTop() { throw new RuntimeException("Stub!"); }

    public int getSystemWindowInsetRight() { throw new RuntimeException("Stub!"); }

    public int getSystemWindowInsetBottom() { throw new RuntimeException("Stub!"); }

    /** API 30. */
    public static final class Type {
        Type() { throw new RuntimeException("Stub!"); }

        public static int systemBars() { throw new RuntimeException("Stub!"); }

        public static int displayCutout() { throw new RuntimeException("Stub!"); }

        public static int navigationBars() { throw new RuntimeException("Stub!"); }

        public static int statusBars() { throw new RuntimeException("Stub!"); }
    }
}
