// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.content;

import android.net.Uri;

public class ClipData {
    public ClipData(ClipData other) { throw new RuntimeException("Stub!"); }

    public int getItemCount() { throw new RuntimeException("Stub!"); }

    public ClipData.Item getItemAt(int index) { throw new RuntimeException("Stub!"); }

    public static class Item {
        public Item(Uri uri) { throw new RuntimeException("Stub!"); }

        public Uri getUri() { throw new RuntimeException("Stub!"); }
    }
}
