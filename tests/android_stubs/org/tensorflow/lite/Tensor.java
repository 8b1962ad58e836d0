// A compile-time stub for tests/test_android_app.py: signatures transcribed from LiteRT 1.4.1 (com.google.ai.edge.litert:litert 1.4.1, package org.tensorflow.lite).
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package org.tensorflow.lite;

public interface Tensor {
    DataType dataType();

    int numDimensions();

    int numBytes();

    int numElements();

    int[] shape();

    int[] shapeSignature();

    int index();

    String name();

    Tensor.QuantizationParams quantizationParams();

    class QuantizationParams {
        public QuantizationParams(float scale, int zeroPoint) { throw new RuntimeException("Stub!"); }

        public float getScale() { throw new RuntimeException("Stub!"); }

        public int getZeroPoint() { throw new RuntimeException("Stub!"); }
    }
}
