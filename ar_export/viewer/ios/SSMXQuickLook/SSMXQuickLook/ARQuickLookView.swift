import ARKit
import QuickLook
import SwiftUI

/// Presents the bundled model.usdz in AR Quick Look through a
/// QLPreviewController whose item is an ARQuickLookPreviewItem with
/// allowsContentScaling = false (true size, no pinch-to-scale).
struct ARQuickLookView: UIViewControllerRepresentable {
    static let modelURL = Bundle.main.url(forResource: "model", withExtension: "usdz")
    var onDismiss: () -> Void

    func makeCoordinator() -> Coordinator {
        Coordinator(onDismiss: onDismiss)
    }

    func makeUIViewController(context: Context) -> QLPreviewController {
        let controller = QLPreviewController()
        controller.dataSource = context.coordinator
        controller.delegate = context.coordinator
        return controller
    }

    func updateUIViewController(_ controller: QLPreviewController, context: Context) {}

    final class Coordinator: NSObject, QLPreviewControllerDataSource, QLPreviewControllerDelegate {
        let onDismiss: () -> Void

        init(onDismiss: @escaping () -> Void) {
            self.onDismiss = onDismiss
        }

        func numberOfPreviewItems(in controller: QLPreviewController) -> Int {
            ARQuickLookView.modelURL == nil ? 0 : 1
        }

        func previewController(_ controller: QLPreviewController, previewItemAt index: Int) -> QLPreviewItem {
            let item = ARQuickLookPreviewItem(fileAt: ARQuickLookView.modelURL!)
            item.allowsContentScaling = false
            return item
        }

        func previewControllerDidDismiss(_ controller: QLPreviewController) {
            onDismiss()
        }
    }
}
