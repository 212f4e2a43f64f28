import java.io.File;
import java.util.*;
import org.rsna.ctp.objects.DicomObject;
import org.rsna.ctp.stdstages.anonymizer.AnonymizerStatus;
import org.rsna.ctp.stdstages.anonymizer.dicom.DICOMPixelAnonymizer;
import org.rsna.ctp.stdstages.anonymizer.dicom.PixelScript;
import org.rsna.ctp.stdstages.anonymizer.dicom.Signature;
import org.rsna.util.FileUtil;

// Runs CTP's own filter and pixel anonymizer (from CTP's libraries/CTP.jar,
// with dcm4che.jar, util.jar, the imageio jars and log4j on the class path)
// over every file under IN, in sorted order. For each file it prints
// <rel> TAB <filter result> TAB <matched signature, whitespace folded, or -> TAB <status>
// and, where a signature with regions matched, writes CTP's output to OUT/<rel>
// (DICOMPixelAnonymizer.anonymize with setBurnedInAnnotation, not test mode).
// Nothing here is CTP's code; it only calls it. Used by record_ctp_pixel_golden.sh.
// Args: pixel.script filter.script in out
public class CtpPixelRun {
  public static void main(String[] a) throws Exception {
    PixelScript script = new PixelScript(new File(a[0]));
    String filter = FileUtil.getText(new File(a[1]));
    File in = new File(a[2]), out = new File(a[3]);
    List<File> files = new ArrayList<>(); walk(in, files);
    Collections.sort(files);
    for (File f : files) {
      String rel = in.toPath().relativize(f.toPath()).toString();
      DicomObject d;
      try { d = new DicomObject(f); } catch (Exception e) { System.out.println(rel + "\t-\t-\tNOT_DICOM"); continue; }
      boolean pass = d.matches(filter);
      Signature s = script.getMatchingSignature(d);
      String sig = (s == null) ? "-" : s.script.trim().replaceAll("\\s+", " ");
      String status = "NO_REGIONS";
      if (s != null && s.regions.size() > 0) {
        File o = new File(out, rel); o.getParentFile().mkdirs();
        try {
          AnonymizerStatus st = DICOMPixelAnonymizer.anonymize(f, o, s.regions, true, false);
          status = st.getStatus() + " " + st.getMessage().replace('\n', ' ').replace('\t', ' ');
        } catch (Throwable t) {
          o.delete();
          status = "ERROR " + t.getClass().getSimpleName();
        }
      }
      System.out.println(rel + "\t" + pass + "\t" + sig + "\t" + status.trim());
    }
  }
  static void walk(File d, List<File> out) {
    File[] fs = d.listFiles(); if (fs == null) return;
    for (File f : fs) { if (f.isDirectory()) walk(f, out); else out.add(f); }
  }
}
