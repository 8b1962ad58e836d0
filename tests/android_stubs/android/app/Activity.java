// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.app;

import android.content.Intent;
import android.os.Bundle;
import android.view.ContextThemeWrapper;
import android.view.View;

public class Activity extends ContextThemeWrapper {
    public static final int RESULT_OK = -1;

    public Activity() { throw new RuntimeException("Stub!"); }

    protected void onCreate(Bundle savedInstanceState) { throw new RuntimeException("Stub!"); }

    protected void onStart() { throw new RuntimeException("Stub!"); }

    protected void onResume() { throw new RuntimeException("Stub!"); }

    protected void onPause() { throw new RuntimeException("Stub!"); }

    protected void onStop() { throw new RuntimeException("Stub!"); }

    protected void onDestroy() { throw new RuntimeException("Stub!"); }

    public void setContentView(int layoutResID) { throw new RuntimeException("Stub!"); }

    public <T extends View> T findViewById(int id) { throw new RuntimeException("Stub!"); }

    public Intent getIntent() { throw new RuntimeException("Stub!"); }

    @Override
    public void startActivity(Intent intent) { throw new RuntimeException("Stub!"); }

    public final void runOnUiThread(Runnable action) { throw new RuntimeException("Stub!"); }

    public final void requestPermissions(String[] permissions, int requestCode) { throw new RuntimeException("Stub!"); }

    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grantResults) { throw new RuntimeException("Stub!"); }

    public void startActivityForResult(Intent intent, int requestCode) { throw new RuntimeException("Stub!"); }

    protected void onActivityResult(int requestCode, int resultCode, Intent data) { throw new RuntimeException("Stub!"); }

    public boolean shouldShowRequestPermissionRationale(String permission) { throw new RuntimeException("Stub!"); }

    public void finish() { throw new RuntimeException("Stub!"); }
}
