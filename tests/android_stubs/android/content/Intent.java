// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.content;

import android.net.Uri;

public class Intent {
    public static final String ACTION_CREATE_DOCUMENT = "android.intent.action.CREATE_DOCUMENT";
    public static final String ACTION_GET_CONTENT = "android.intent.action.GET_CONTENT";
    public static final String ACTION_OPEN_DOCUMENT = "android.intent.action.OPEN_DOCUMENT";
    public static final String CATEGORY_OPENABLE = "android.intent.category.OPENABLE";
    public static final String EXTRA_ALLOW_MULTIPLE = "android.intent.extra.ALLOW_MULTIPLE";
    public static final String EXTRA_TITLE = "android.intent.extra.TITLE";

    public Intent(Context packageContext, Class<?> cls) { throw new RuntimeException("Stub!"); }

    public Intent(String action) { throw new RuntimeException("Stub!"); }

    public Intent(String action, Uri uri) { throw new RuntimeException("Stub!"); }

    public Intent setType(String type) { throw new RuntimeException("Stub!"); }

    public Intent addCategory(String category) { throw new RuntimeException("Stub!"); }

    public Intent putExtra(String name, boolean value) { throw new RuntimeException("Stub!"); }

    public Uri getData() { throw new RuntimeException("Stub!"); }

    public ClipData getClipData() { throw new RuntimeException("Stub!"); }

    public Intent putExtra(String name, String value) { throw new RuntimeException("Stub!"); }

    public Intent putExtra(String name, int value) { throw new RuntimeException("Stub!"); }

    public String getStringExtra(String name) { throw new RuntimeException("Stub!"); }

    public int getIntExtra(String name, int defaultValue) { throw new RuntimeException("Stub!"); }
}
