// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.provider;

public final class MediaStore {
    MediaStore() { throw new RuntimeException("Stub!"); }

    public static final String ACTION_PICK_IMAGES = "android.provider.action.PICK_IMAGES";
    public static final String EXTRA_PICK_IMAGES_MAX = "android.provider.extra.PICK_IMAGES_MAX";

    public static int getPickImagesMaxLimit() { throw new RuntimeException("Stub!"); }
}
