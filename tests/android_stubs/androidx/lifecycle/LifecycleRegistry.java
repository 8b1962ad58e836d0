// A compile-time stub for tests/test_android_app.py: signatures transcribed from androidx.lifecycle:lifecycle-runtime and lifecycle-common 2.8.7.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package androidx.lifecycle;

public class LifecycleRegistry extends Lifecycle {
    public LifecycleRegistry(LifecycleOwner provider) { throw new RuntimeException("Stub!"); }

    public void handleLifecycleEvent(Lifecycle.Event event) { throw new RuntimeException("Stub!"); }

    public void setCurrentState(Lifecycle.State state) { throw new RuntimeException("Stub!"); }

    @Override
    public void addObserver(LifecycleObserver observer) { throw new RuntimeException("Stub!"); }

    @Override
    public void removeObserver(LifecycleObserver observer) { throw new RuntimeException("Stub!"); }

    @Override
    public Lifecycle.State getCurrentState() { throw new RuntimeException("Stub!"); }
}
