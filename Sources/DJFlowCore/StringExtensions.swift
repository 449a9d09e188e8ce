// Small String helpers the stages share: trimming a character, and DataJoint's CamelCase → snake_case.

extension String {
    /// Removes `character` from both ends.
    public func trimming(_ character: Character) -> String {
        var view = Substring(self)
        while view.first == character { view.removeFirst() }
        while view.last == character { view.removeLast() }
        return String(view)
    }

    /// CamelCase → snake_case, the way DataJoint names tables (`CuratedClustering` → `curated_clustering`).
    public var snakeCased: String {
        var out = ""
        let scalars = Array(unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            let isUpper = scalar.properties.isUppercase
            if isUpper && index > 0 {
                let previous = scalars[index - 1]
                let nextIsLower = index + 1 < scalars.count && scalars[index + 1].properties.isLowercase
                if previous.properties.isLowercase || previous.properties.numericType != nil
                    || (previous.properties.isUppercase && nextIsLower) {
                    out += "_"
                }
            }
            out += String(scalar).lowercased()
        }
        return out
    }
}
