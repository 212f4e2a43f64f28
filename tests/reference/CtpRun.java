import java.io.File;
import java.util.*;
import org.rsna.ctp.stdstages.anonymizer.AnonymizerStatus;
import org.rsna.ctp.stdstages.anonymizer.IntegerTable;
import org.rsna.ctp.stdstages.anonymizer.LookupTable;
import org.rsna.ctp.stdstages.anonymizer.dicom.DAScript;
import org.rsna.ctp.stdstages.anonymizer.dicom.DICOMAnonymizer;

// Runs CTP's own DICOMAnonymizer (from CTP's libraries/CTP.jar, with its
// dcm4che.jar, util.jar, jdbm.jar and log4j jars on the class path) over every
// file under IN, in sorted order, writing OUT/<rel> and printing one line per
// file: <rel> TAB <OK|SKIP|QUARANTINE> TAB <message>.
// Nothing here is CTP's code; it only calls it. Used by record_ctp_golden.sh.
// Args: script in out [lookup.properties|-] [NAME=VALUE]...
// Each NAME=VALUE sets the script parameter `@NAME` after the script is
// read, as DicomAnonymizerTool's `-pNAME VALUE` does (it overrides `<p>`).
public class CtpRun {
  public static void main(String[] a) throws Exception {
    Properties script = DAScript.getInstance(new File(a[0])).toProperties();
    Properties lookup = a.length > 3 && !a[3].equals("-") ? LookupTable.getProperties(new File(a[3])) : null;
    for (int i = 4; i < a.length; i++) {
      int eq = a[i].indexOf('=');
      script.setProperty("param." + a[i].substring(0, eq).trim(), a[i].substring(eq + 1));
    }
    File in = new File(a[1]), out = new File(a[2]);
    File itdir = new File(out, ".inttable"); itdir.mkdirs();
    IntegerTable it = new IntegerTable(itdir);
    List<File> files = new ArrayList<>(); walk(in, files);
    Collections.sort(files);
    for (File f : files) {
      String rel = in.toPath().relativize(f.toPath()).toString();
      File o = new File(out, rel); o.getParentFile().mkdirs();
      AnonymizerStatus s = DICOMAnonymizer.anonymize(f, o, script, lookup, it, false, false);
      System.out.println(rel + "\t" + s.getStatus() + "\t" + s.getMessage().replace('\n',' '));
    }
    it.close();
  }
  static void walk(File d, List<File> out) {
    File[] fs = d.listFiles(); if (fs == null) return;
    for (File f : fs) { if (f.isDirectory()) walk(f, out); else out.add(f); }
  }
}
