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
