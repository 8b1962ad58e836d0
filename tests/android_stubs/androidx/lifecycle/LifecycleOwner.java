// A compile-time stub for tests/test_android_app.py: signatures transcribed from androidx.lifecycle:lifecycle-runtime and lifecycle-common 2.8.7.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package androidx.lifecycle;

public interface LifecycleOwner {
    Lifecycle getLifecycle();
}
