// A compile-time stub for tests/test_android_app.py: signatures transcribed from LiteRT 1.4.1 (com.google.ai.edge.litert:litert 1.4.1, package org.tensorflow.lite).
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package org.tensorflow.lite;

import java.io.File;
import java.nio.ByteBuffer;
import java.util.Map;

/** The real class extends InterpreterImpl and implements InterpreterApi; these are the public methods it offers. */
public final class Interpreter implements AutoCloseable {
    public Interpreter(File modelFile) { throw new RuntimeException("Stub!"); }

    public Interpreter(File modelFile, Interpreter.Options options) { throw new RuntimeException("Stub!"); }

    public Interpreter(ByteBuffer byteBuffer) { throw new RuntimeException("Stub!"); }

    public Interpreter(ByteBuffer byteBuffer, Interpreter.Options options) { throw new RuntimeException("Stub!"); }

    public void run(Object input, Object output) { throw new RuntimeException("Stub!"); }

    public void runForMultipleInputsOutputs(Object[] inputs, Map<Integer, Object> outputs) { throw new RuntimeException("Stub!"); }

    public void allocateTensors() { throw new RuntimeException("Stub!"); }

    public void resizeInput(int idx, int[] dims) { throw new RuntimeException("Stub!"); }

    public int getInputTensorCount() { throw new RuntimeException("Stub!"); }

    public int getOutputTensorCount() { throw new RuntimeException("Stub!"); }

    public Tensor getInputTensor(int inputIndex) { throw new RuntimeException("Stub!"); }

    public Tensor getOutputTensor(int outputIndex) { throw new RuntimeException("Stub!"); }

    @Override
    public void close() { throw new RuntimeException("Stub!"); }

    public static class Options {
        public Options() { throw new RuntimeException("Stub!"); }

        public Options setNumThreads(int numThreads) { throw new RuntimeException("Stub!"); }

        public Options setUseXNNPACK(boolean useXNNPACK) { throw new RuntimeException("Stub!"); }

        public Options setUseNNAPI(boolean useNNAPI) { throw new RuntimeException("Stub!"); }
    }
}
