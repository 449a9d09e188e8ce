import DJFlowCore
import DJFlowSpec
import Testing

@Suite struct DefinitionTests {
    func references(_ text: String) -> [String] {
        Definition(text: text) { line, column in SourceLocation(file: "t", line: line + 1, column: column + 1) }
            .references.map(\.name.value)
    }

    @Test func everyForeignKeyFormDataJointAccepts() {
        let text = """
            -> Subject
            ->Session   # trailing comment
            -> [nullable] Probe
            -> [unique, nullable] Rig
            -> Person.proj(mentor_id='person_id')
            -> lab.Lab
            -> Recording.Channel
            -> master
            (new_id) -> Legacy(old_id)
            id: int   # -> NotAReference in a comment
            ---
            note: varchar(255)  # text with -> arrow in comment
            -> ephys.Clustering
            index(note)
            """
        #expect(references(text) == ["Subject", "Session", "Probe", "Rig", "Person", "lab.Lab", "Recording.Channel",
                                     "master", "Legacy", "ephys.Clustering"])
    }

    @Test func primaryAndSecondaryAndOptions() {
        let definition = Definition(text: "-> A\n---\n-> [nullable] B") { _, _ in SourceLocation(file: "t", line: 1, column: 1) }
        #expect(definition.references.map(\.isPrimary) == [true, false])
        #expect(definition.references[1].options == ["nullable"])
    }

    @Test func tableNames() {
        #expect(TableName(parsing: "ephys.Recording.Channel") == TableName(module: "ephys", className: "Recording", part: "Channel"))
        #expect(TableName(parsing: "lab.subject.Subject") == TableName(module: "lab.subject", className: "Subject"))
        #expect(TableName(parsing: "Recording.Channel")?.master == TableName(className: "Recording"))
        #expect(TableName(parsing: "recording") == nil)
        #expect(TableName(parsing: "A.B.C") == nil)
        #expect(TableName(parsing: "bad name") == nil)
    }

    /// The one-pass parser says what splitting into segments says: every string of up to five characters
    /// drawn from lower, upper, `_`, a digit, a dot, a space and a non-ASCII letter.
    @Test func tableNameParsingIsTheSegmentRule() {
        let alphabet: [Character] = ["a", "B", "_", "1", ".", " ", "é"]
        var texts = [""]
        var frontier = [""]
        for _ in 1...5 {
            frontier = frontier.flatMap { prefix in alphabet.map { prefix + String($0) } }
            texts += frontier
        }
        texts += ["lab.subject.Subject", "ephys.Recording.Channel", "a_1.b2.C_3.D4", "A.b", "a..B", ".A", "A.", "Ab.Cd.Ef"]
        var checked = 0
        for text in texts {
            let fast = TableName(parsing: text), reference = Self.segmentRule(text)
            #expect(fast == reference, "\(text.debugDescription): \(String(describing: fast)) vs \(String(describing: reference))")
            if fast == reference { checked += 1 }
        }
        #expect(checked == texts.count && texts.count > 19_000)
        #expect(texts.contains { Self.segmentRule($0) != nil && Self.segmentRule($0)?.part != nil && !(Self.segmentRule($0)?.module.isEmpty ?? true) })
    }

    /// The rule as first written: split on dots, every segment an ASCII identifier, lower-case leading
    /// segments the module, then one or two classes.
    static func segmentRule(_ text: String) -> TableName? {
        let segments = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let isIdentifier = { (segment: String) -> Bool in
            guard let first = segment.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
            return segment.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
        }
        guard segments.allSatisfy(isIdentifier) else { return nil }
        let isClass = { (segment: String) in ("A"..."Z").contains(segment.unicodeScalars.first!) }
        guard let firstClass = segments.firstIndex(where: isClass) else { return nil }
        let classes = segments[firstClass...]
        guard classes.count <= 2, classes.allSatisfy(isClass) else { return nil }
        return TableName(module: segments[..<firstClass].joined(separator: "."), className: classes.first!,
                         part: classes.count == 2 ? classes.last! : nil)
    }

    @Test func quantities() {
        #expect(MemoryAmount(parsing: "4G")?.mebibytes == 4096)
        #expect(MemoryAmount(parsing: "512M")?.slurmText == "512M")
        #expect(MemoryAmount(parsing: "1536")?.slurmText == "1536M")
        #expect(MemoryAmount(parsing: "2GiB")?.slurmText == "2G")
        #expect(MemoryAmount(parsing: "2.5G") == nil)
        #expect(WallTime(parsing: "1:00:00")?.seconds == 3600)
        #expect(WallTime(parsing: "2-12:00:00")?.slurmText == "2-12:00:00")
        #expect(WallTime(parsing: "1-0")?.seconds == 86_400)
        #expect(WallTime(parsing: "90")?.slurmText == "1:30:00")
        #expect(WallTime(parsing: "1:60:00") == nil)
        #expect(WallTime(parsing: "0:00:00") == nil)
    }
}
