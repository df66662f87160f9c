import Foundation

/// The checkout this test build came from: the nearest folder above this file holding Package.swift.
public enum RepositoryRoot {
    public static func find(from file: String = #filePath) -> URL? {
        var directory = URL(fileURLWithPath: file).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory
            }
            directory.deleteLastPathComponent()
        }
        return nil
    }
}
