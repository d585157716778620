import SwiftUI

struct ContentView: View {
    @State private var showingAR = false

    var body: some View {
        VStack(spacing: 16) {
            Text("ssmx AR sample")
                .font(.title2)
            Text("Shows model.usdz in AR Quick Look at true size (metres, +Y up).")
                .multilineTextAlignment(.center)
                .foregroundColor(.secondary)
            Button("View in AR") {
                showingAR = true
            }
            .buttonStyle(.borderedProminent)
            .disabled(ARQuickLookView.modelURL == nil)
        }
        .padding()
        .fullScreenCover(isPresented: $showingAR) {
            ARQuickLookView(onDismiss: { showingAR = false })
                .ignoresSafeArea()
        }
    }
}
