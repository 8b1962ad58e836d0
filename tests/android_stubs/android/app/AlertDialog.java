// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.app;

import android.content.Context;
import android.content.DialogInterface;
import android.view.View;

public class AlertDialog extends Dialog implements DialogInterface {
    protected AlertDialog(Context context) { throw new RuntimeException("Stub!"); }

    public static class Builder {
        public Builder(Context context) { throw new RuntimeException("Stub!"); }

        public Builder setTitle(int titleId) { throw new RuntimeException("Stub!"); }

        public Builder setTitle(CharSequence title) { throw new RuntimeException("Stub!"); }

        public Builder setMessage(CharSequence message) { throw new RuntimeException("Stub!"); }

        public Builder setView(View view) { throw new RuntimeException("Stub!"); }

        public Builder setPositiveButton(int textId, DialogInterface.OnClickListener listener) { throw new RuntimeException("Stub!"); }

        public Builder setPositiveButton(CharSequence text, DialogInterface.OnClickListener listener) { throw new RuntimeException("Stub!"); }

        public Builder setNegativeButton(int textId, DialogInterface.OnClickListener listener) { throw new RuntimeException("Stub!"); }

        public Builder setNegativeButton(CharSequence text, DialogInterface.OnClickListener listener) { throw new RuntimeException("Stub!"); }

        public Builder setItems(CharSequence[] items, DialogInterface.OnClickListener listener) { throw new RuntimeException("Stub!"); }

        public AlertDialog create() { throw new RuntimeException("Stub!"); }

        public AlertDialog show() { throw new RuntimeException("Stub!"); }
    }
}
