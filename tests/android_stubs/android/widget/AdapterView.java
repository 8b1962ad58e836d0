// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.widget;

import android.content.Context;
import android.util.AttributeSet;
import android.view.View;
import android.view.ViewGroup;

public abstract class AdapterView<T extends Adapter> extends ViewGroup {
    public AdapterView(Context context, AttributeSet attrs) { super(context, attrs); throw new RuntimeException("Stub!"); }

    public abstract void setAdapter(T adapter);

    public void setEmptyView(View emptyView) { throw new RuntimeException("Stub!"); }

    public void setOnItemClickListener(AdapterView.OnItemClickListener listener) { throw new RuntimeException("Stub!"); }

    public void setOnItemSelectedListener(AdapterView.OnItemSelectedListener listener) { throw new RuntimeException("Stub!"); }

    public void setSelection(int position) { throw new RuntimeException("Stub!"); }

    public interface OnItemClickListener {
        void onItemClick(AdapterView<?> parent, View view, int position, long id);
    }

    public interface OnItemSelectedListener {
        void onItemSelected(AdapterView<?> parent, View view, int position, long id);

        void onNothingSelected(AdapterView<?> parent);
    }
}
