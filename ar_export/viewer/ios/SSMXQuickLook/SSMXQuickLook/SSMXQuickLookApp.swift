// Opens the bundled model.usdz (written by `ssmx export --usdz`) in AR Quick
// Look at true size: ARQuickLookPreviewItem.allowsContentScaling = false, so
// the user cannot pinch the bone to another size.
import SwiftUI

@main
struct SSMXQuickLookApp: App {
    var body: some Scene {
        WindowGroup {
            ContentView()
        }
    }
}
