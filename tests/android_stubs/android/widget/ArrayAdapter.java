// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.widget;

import android.content.Context;
import java.util.List;

public class ArrayAdapter<T> extends BaseAdapter {
    public ArrayAdapter(Context context, int resource, List<T> objects) { throw new RuntimeException("Stub!"); }

    public ArrayAdapter(Context context, int resource, T[] objects) { throw new RuntimeException("Stub!"); }

    @Override
    public int getCount() { throw new RuntimeException("Stub!"); }

    public void setDropDownViewResource(int resource) { throw new RuntimeException("Stub!"); }
}
